//! Declarative route policy: a serde document of ordered rules, compiled into
//! a segment trie so that matching cost does not grow with the rule count,
//! and evaluated into a [`Decision`] (paths per RFC 3986 §3.3 and §6.2.2,
//! methods per RFC 9110 §9.1, hosts per RFC 9110 §7.2).
//!
//! # Semantics
//!
//! - **Ordered, first applying rule wins.** A rule *applies* when its `match`
//!   holds (method, host, path) **and** all of its `require` conditions hold.
//!   Rules are tried in order and the first applying rule's `effect` decides.
//!   A rule whose route matches but whose requirements fail does not decide:
//!   evaluation falls through to later rules. A `deny` rule therefore
//!   overrides every later `allow`.
//! - **Default deny.** When no rule applies the request is denied, and the
//!   [`Decision`] lists, for each rule whose route matched, which of its
//!   requirements failed. That is what lets a caller tell "log in"
//!   ([`Decision::authentication_required`], a 401) from "not enough
//!   privilege" ([`Decision::required_scopes`], a 403 `insufficient_scope`).
//! - **Allow rules require authentication unless they say `anonymous`.** An
//!   `allow` rule without `anonymous = true` needs a principal, so a rule
//!   written without a `require` block never opens a route to the world by
//!   accident. `deny` rules apply to everyone unless they name principal
//!   conditions.
//! - **Rules that cannot be evaluated never allow.** When a condition needs a
//!   fact the request does not carry (no client IP, no country, no host, an
//!   ambiguous repeated header), an `allow` rule is treated as not applying
//!   and a `deny` rule is treated as applying (fail closed): skipping a deny
//!   rule would hand the request to the allows after it. Either way the
//!   [`Decision`] reports it.
//! - **Incomplete sets are unevaluable too.** When the role mapper left
//!   roles or scopes out past its limits (a token with 300 roles keeps 256 by
//!   default), or the token moved a claim elsewhere (an Entra groups
//!   overage: `_claim_names`, `hasgroups`), a condition reading that set or
//!   claim cannot tell "does not hold `suspended`" from "held it past the
//!   cut". It fails with [`Failure::IncompleteSet`]: deny rules reading it
//!   apply, allow rules reading it do not, even when the value they want was
//!   kept. Only the cut set is affected (see `Principal::incomplete`); raise
//!   `RoleMapper::max_values_per_claim` if real users hit it.
//!
//! # Matching
//!
//! - **Paths** are matched on the raw, still percent-encoded path; the query
//!   is ignored. Percent-encoded unreserved characters are decoded and the
//!   remaining triplets upper-cased (RFC 3986 §6.2.2.1-2), so `/%61dmin` is
//!   `/admin` and cannot slip past a deny rule. Reserved characters stay
//!   encoded: `/a%2Fb` is one segment and never matches `/a/b`; by default
//!   (`PolicyConfig::reject_encoded_separators`) a request containing `%2F` or
//!   `%5C` is refused outright, because back ends disagree on decoding them,
//!   and so is a `;` path parameter (`/admin;x/users`), which servlet
//!   containers strip (`PolicyConfig::reject_path_parameters`).
//!   Requests with dot segments (`.`, `..`, also encoded or with a `;`
//!   parameter such as `..;`), empty segments (`//`), bytes outside RFC 3986
//!   `pchar`, malformed or NUL percent-encoding are **refused** (denied with
//!   [`Reason::RequestRejected`]) rather than normalised: a gateway and the
//!   origin must never see different paths.
//! - **Encoded slashes per route.** Some APIs put `%2F` inside one segment
//!   on purpose (GitLab's `/api/v4/projects/group%2Fproject`). Keep the
//!   strict default and let just that route admit it with
//!   `"allow_encoded_slash": true` in the rule's `match`: the `%2F` stays
//!   part of the segment (`{id}` matches `group%2Fproject`), allow rules
//!   without the flag pass over such a path, deny rules match it whatever
//!   they say, and a segment whose `%2F`-separated parts include `.`, `..`
//!   or an empty part is still refused (an origin that decodes and then
//!   resolves dot segments must not be walked out of the route). Turn it on
//!   only where the origin treats `%2F` as data.
//! - **Characters clients send raw.** `|`, `[`, `]`, `^` (browsers leave
//!   them unencoded), `"`, `{`, `}` and non-ASCII UTF-8 (which `http::Uri`
//!   also accepts) are not RFC 3986 `pchar`, but are accepted and matched as
//!   their percent-encoded forms: `/a|b` is `/a%7Cb`, in requests and in
//!   patterns. A raw `\` is still refused.
//! - **Patterns**: literal segments, `{name}` and `*` (exactly one non-empty
//!   segment) and a final `**` (zero or more segments: `/api/**` matches
//!   `/api`, `/api/` and `/api/a/b`). A trailing slash is significant:
//!   `/users` and `/users/` are different routes.
//! - **Methods** are case-sensitive (RFC 9110 §9.1): `get` is not `GET`; a
//!   lower-case standard method in a policy is a compile error. One
//!   exception, on the safe side: **deny rules match methods
//!   case-insensitively**, so `delete` meets a `DELETE` deny rule. Origins
//!   that upper-case the method before routing (Django, gunicorn with
//!   `casefold_http_method`) would otherwise run a `DELETE` that slipped
//!   past the deny to a broader allow. Allow rules stay exact, so a
//!   mis-cased method never gains access: `get` does not meet `GET` allow
//!   rules. (The alternative, refusing mis-cased standard methods before
//!   the policy, would leave the same hole open for extension methods such
//!   as `PURGE`.)
//! - **Path profile.** By default paths compare as RFC 3986 says:
//!   case-sensitively, nothing stripped, so `/Admin` is not `/admin`. When
//!   the origin is ASP.NET Core, IIS, or serves a Windows or macOS file
//!   system, it reads `/Admin/users`, `/admin./users` and `/admin%20/users`
//!   as `/admin/users`; describe it in the document's top-level `paths`
//!   ([`PathProfile`]): `"paths": { "case": "insensitive",
//!   "strip_trailing_dots": true, "strip_trailing_spaces": true }`. Request
//!   paths and pattern literals are then read alike, so deny and allow rules
//!   both meet every spelling. Case folding follows Unicode simple case
//!   mappings through percent-encoded UTF-8 (`/adm%C4%B1n`, with a dotless
//!   i, meets `/admin/**`); a segment that strips to nothing (`/...`,
//!   `/%20`) is refused. Leave it off for case-sensitive origins: there it
//!   would let an allow rule for `/reports` cover `/REPORTS`, another path.
//! - **Hosts** are compared case-insensitively, the request's port and one
//!   trailing dot are ignored; `*.example.com` matches any name below
//!   `example.com` at any depth, but not `example.com` itself. A request
//!   host with an empty label (`a..b`, a second trailing dot) or a
//!   bracketed value that is no IPv6 address is malformed (host-scoped deny
//!   rules apply, allow rules do not); IPv6 literals match by address, so
//!   `[0:0::1]` is `[::1]`.
//! - **Client IP** conditions are CIDR lists; IPv4-mapped IPv6 addresses
//!   (`::ffff:10.1.2.3`) are treated as IPv4, in requests and in the list.
//!
//! # CORS
//!
//! Cross-origin settings live in the document too: a top-level `cors` map of
//! named [`CorsSettings`](crate::cors::CorsSettings), and a rule field
//! `"cors": "name"`. The settings of a request are those named by the first
//! rule, in order, whose `match` (method, host, path) covers it; `require`
//! is not looked at, because a preflight carries no credentials and the
//! settings belong to the route ([`CompiledPolicy::cors_for`]). For a
//! preflight the gate matches with the requested method
//! (`Access-Control-Request-Method`). A rule naming settings that do not
//! exist, or settings that do not compile (`*` with credentials, an origin
//! not in canonical form), is a compile error. See [`crate::cors`] for the
//! protocol.
//!
//! ```
//! use edge_auth::policy::{Policy, RequestFacts};
//!
//! let policy = Policy::from_json(r#"{
//!   "cors": { "app": { "origins": ["https://app.example.com"],
//!                      "methods": ["PUT"], "headers": ["authorization"],
//!                      "credentials": true } },
//!   "rules": [
//!     { "id": "orders", "match": { "methods": ["GET", "PUT"], "paths": ["/orders/{id}"] },
//!       "require": { "scopes": ["orders"] }, "effect": "allow", "cors": "app" }
//!   ] }"#)?.compile()?;
//! let put = http::Method::PUT;
//! assert!(policy.cors_for(&RequestFacts::new(&put, "/orders/7")).is_some());
//! let delete = http::Method::DELETE;
//! assert!(policy.cors_for(&RequestFacts::new(&delete, "/orders/7")).is_none());
//! # Ok::<(), edge_auth::policy::PolicyError>(())
//! ```
//!
//! # Rate limits
//!
//! An `allow` rule may carry `limits`, checked by the
//! [`Gate`](crate::gate::Gate) after the rule allows a request (GCRA, see
//! [`crate::limit`]); a request over a limit gets 429 with `Retry-After`,
//! `RateLimit-Policy` and `RateLimit`:
//!
//! ```json
//! { "id": "orders", "match": { "paths": ["/orders/**"] },
//!   "require": { "scopes": ["orders:read"] }, "effect": "allow",
//!   "limits": [
//!     { "id": "per-user", "key": "subject", "rate": "100/60s", "burst": 20 },
//!     { "id": "per-net", "key": "ip", "rate": "1000/h", "ipv6_prefix": 56 },
//!     { "id": "per-tenant", "key": "claim:/tid", "rate": "5000/h" }
//!   ] }
//! ```
//!
//! - `id`: 1-64 ASCII letters, digits, `-`, `_`, `.`; unique in the rule.
//!   The same id in several rules means one shared counter (the entries
//!   must then be identical).
//! - `key`: `subject`, `client_id` (`azp`, else `client_id`), `ip` (the
//!   client IP of [`RequestFacts::with_client_ip`]; IPv6 grouped by
//!   `ipv6_prefix`, default 64, IPv4 by `ipv4_prefix`, default 32),
//!   `route` (all requests the rule admits together) or
//!   `claim:<JSON Pointer>`. Requests without the value (no principal, no
//!   client IP, no such claim) share one counter per limit.
//! - `rate`: `<count>/<period>`, period units `ms`, `s`, `m`, `h`, `d`
//!   (`10/s`, `100/60s`); at most 1 000 000 per period, periods up to a
//!   year.
//! - `burst`: requests admitted at once; default the rate's count. Over
//!   any window of length `t` at most `burst + floor(t / T)` pass, with
//!   `T = period / count`.
//!
//! Limits are checked in order; the first that refuses answers 429 (the
//! limits before it have counted the request). Limits on `deny` rules are
//! a compile error. See `examples/policies/rate-limits.json`.
//!
//! # Captures bound to the principal
//!
//! A rule's `{name}` path captures, and a host capture written as a whole
//! leading label (`{tenant}.api.example.com`, one label, compared
//! case-insensitively), can be compared with the principal in `require`:
//!
//! - `{"claim": "/tid", "equals_capture": "tenant"}`: the claim (a JSON
//!   Pointer; `pointer` works too) is a string equal to the capture;
//! - `{"claim": "/projects", "contains_capture": "p"}`: the claim is an
//!   array holding a string equal to it;
//! - `"subject_equals_capture": "id"`: the principal's subject equals it.
//!
//! Every capture a rule compares must be bound by each of its path
//! patterns, or by each of its host patterns (a compile error otherwise).
//! A capture bound twice (a host and a path capture of the same name, or
//! two patterns that both match) must equal the claim in every binding.
//!
//! Captures are compared as normalised paths read them: percent-encoded
//! unreserved characters decoded (`%74%31` is `t1`), case folded under a
//! case-insensitive [`PathProfile`]. A capture that still holds anything
//! but RFC 3986 unreserved characters (letters, digits, `-`, `.`, `_`,
//! `~`), such as an encoded separator (`t1%2Fx`), a reserved character
//! (`%3A`) or non-ASCII (`m%C3%BCller`), **never matches**: the policy and
//! the origin could decode it differently. Such a capture, a missing claim
//! or a principal without a subject makes the comparison **unevaluable**:
//! an `allow` rule does not apply, a `deny` rule does
//! ([`Failure::Unevaluable`]). A claim of another type (a number, an array
//! for `equals_capture`) is a plain mismatch. A failed comparison is
//! reported as [`Failure::CaptureMismatch`], naming the rule, the capture,
//! its value and the claim (or `subject`) it was compared with.
//!
//! ```
//! use edge_auth::Principal;
//! use edge_auth::policy::{Failure, Policy, Reason, RequestFacts};
//!
//! let policy = Policy::from_json(r#"{ "rules": [
//!   { "id": "tenant-orders", "match": { "paths": ["/tenants/{tenant}/orders/**"] },
//!     "require": { "claims": [ { "claim": "/tid", "equals_capture": "tenant" } ] },
//!     "effect": "allow" },
//!   { "id": "own-profile", "match": { "paths": ["/users/{id}/profile"] },
//!     "require": { "subject_equals_capture": "id" }, "effect": "allow" }
//! ] }"#)?.compile()?;
//! let get = http::Method::GET;
//! let claims = serde_json::json!({ "tid": "t1" });
//! let alice = Principal::new("alice").with_claims(claims.as_object().cloned().unwrap_or_default());
//!
//! let mine = RequestFacts::new(&get, "/tenants/t1/orders/7");
//! assert!(policy.evaluate(&mine, Some(&alice)).is_allowed());
//! let theirs = RequestFacts::new(&get, "/tenants/t2/orders/7");
//! let decision = policy.evaluate(&theirs, Some(&alice));
//! assert!(matches!(&decision.reasons[0], Reason::RequirementsNotMet { rule_id, failures, .. }
//!     if rule_id == "tenant-orders"
//!         && matches!(&failures[0], Failure::CaptureMismatch { capture, .. } if capture == "tenant")));
//! let profile = RequestFacts::new(&get, "/users/alice/profile");
//! assert!(policy.evaluate(&profile, Some(&alice)).is_allowed());
//! # Ok::<(), edge_auth::policy::PolicyError>(())
//! ```
//!
//! # Request shape
//!
//! An `allow` rule may say what the requests it allows must look like, so
//! the edge refuses non-compliant requests before the origin sees them
//! ([`RequestShape`]):
//!
//! ```json
//! { "id": "orders-write", "match": { "methods": ["POST"], "paths": ["/orders"] },
//!   "require": { "scopes": ["orders:write"] }, "effect": "allow",
//!   "request": { "headers": [ { "name": "idempotency-key", "pattern": "*-*" } ],
//!                "content_types": ["application/json", "text/*"],
//!                "max_body_bytes": 65536 } }
//! ```
//!
//! When the rule decides and the request fails its shape, the decision is
//! a deny by that rule with [`Reason::NonCompliantRequest`]
//! ([`Decision::request_problem`]), and the gate answers 400 (a required
//! header missing, repeated or not matching its `*` pattern; a body whose
//! length is undeclared or ambiguous), 413 (a declared `Content-Length`
//! over `max_body_bytes`) or 415 (a body whose `Content-Type` is not in the
//! list; parameters ignored, `type/*` allowed). Requests without a body are
//! not checked against `content_types`. Only the declared length is
//! checked: the server reading the body enforces it.
//!
//! # Embedded tests
//!
//! A document may carry `tests` ([`PolicyTest`]): sample requests, the
//! principal making them and the expected effect (and, optionally, rule).
//! [`Policy::compile`] runs them all; the first that fails refuses the
//! policy with [`PolicyError::TestFailed`], naming the test and the
//! decision it got. [`Policy::run_tests`] reports every outcome. The
//! `policy` example runs them from the command line and explains any
//! decision:
//!
//! ```text
//! cargo run --example policy -- test examples/policies/tenants.json
//! cargo run --example policy -- check examples/policies/tenants.json \
//!     --request "GET /tenants/t1/orders" --claims claims.json --header "x-request-id: a-1"
//! ```
//!
//! ```json
//! "tests": [
//!   { "name": "tenant reads its orders", "request": "GET /tenants/t1/orders",
//!     "principal": { "subject": "alice", "claims": { "tid": "t1" } },
//!     "expect": "allow", "rule": "tenant-orders" },
//!   { "name": "anonymous is refused", "request": "GET /tenants/t1/orders", "expect": "deny" }
//! ]
//! ```
//!
//! # Reload
//!
//! A [`Gate`](crate::gate::Gate) swaps its policy while serving
//! ([`Gate::replace_policy`](crate::gate::Gate::replace_policy), or
//! [`replace_authorization`](crate::gate::Gate::replace_authorization) with
//! the role mappers): a check reads the policy once at its start, so a
//! request in flight finishes on the policy it started with. Because
//! compiling runs the embedded tests, a document that fails them never
//! replaces a working policy. The drivers reload from a file or URL on an
//! interval (`driver::reload::PolicyReloader`, feature `tokio`) or from
//! Workers KV (`driver::worker::KvPolicy`), keeping the old policy and
//! logging why when the new one is refused.
//!
//! # Example
//!
//! ```
//! use edge_auth::Principal;
//! use edge_auth::policy::{Effect, Policy, RequestFacts};
//!
//! let policy = Policy::from_json(r#"{ "rules": [
//!   { "id": "health", "match": { "methods": ["GET"], "paths": ["/healthz"] },
//!     "require": { "anonymous": true }, "effect": "allow" },
//!   { "id": "users-read", "match": { "methods": ["GET"], "paths": ["/users/{id}"] },
//!     "require": { "scopes": ["users:read"] }, "effect": "allow" }
//! ] }"#)?;
//! let compiled = policy.compile()?;
//! assert!(compiled.warnings().is_empty());
//!
//! let get = http::Method::GET;
//! let facts = RequestFacts::new(&get, "/users/42?expand=1");
//! // No principal: denied, and the caller should authenticate (401).
//! let decision = compiled.evaluate(&facts, None);
//! assert_eq!(decision.effect, Effect::Deny);
//! assert!(decision.authentication_required());
//! // A principal without the scope: 403 insufficient_scope.
//! let alice = Principal::new("alice");
//! let decision = compiled.evaluate(&facts, Some(&alice));
//! assert_eq!(decision.required_scopes(), Some(&["users:read".to_owned()][..]));
//! // With the scope: allowed by `users-read`.
//! let alice = alice.with_scopes(["users:read"]);
//! let decision = compiled.evaluate(&facts, Some(&alice));
//! assert_eq!(decision.effect, Effect::Allow);
//! assert_eq!(decision.rule_id.as_deref(), Some("users-read"));
//! # Ok::<(), edge_auth::policy::PolicyError>(())
//! ```
//!
//! A host-scoped deny rule holds for every spelling of the host:
//!
//! ```
//! use edge_auth::policy::{Policy, RequestFacts};
//!
//! let policy = Policy::from_json(r#"{ "rules": [
//!   { "id": "internal", "match": { "paths": ["/**"], "hosts": ["admin.example.com", "[::1]"] },
//!     "effect": "deny" },
//!   { "id": "public", "match": { "paths": ["/**"] }, "require": { "anonymous": true },
//!     "effect": "allow" }
//! ] }"#)?.compile()?;
//! let get = http::Method::GET;
//! for host in ["ADMIN.example.com:443", "admin.example.com..", "[0:0:0:0:0:0:0:1]"] {
//!     let facts = RequestFacts::new(&get, "/").with_host(host);
//!     assert!(!policy.evaluate(&facts, None).is_allowed(), "{host}");
//! }
//! let facts = RequestFacts::new(&get, "/").with_host("www.example.com");
//! assert!(policy.evaluate(&facts, None).is_allowed());
//! # Ok::<(), edge_auth::policy::PolicyError>(())
//! ```

mod bindings;
mod capture;
mod compile;
mod document;
mod eval;
mod limits;
mod outcome;
pub(crate) mod pattern;
mod profile;
mod selftest;
mod shape;

pub use compile::{CompiledPolicy, PolicyWarning};
pub use document::{
    ClaimCondition, Effect, HeaderCondition, Match, PathCase, PathProfile, Policy, PolicyTest,
    RequestShape, Require, Rule, ShapeHeader, TestPrincipal,
};
pub use eval::RequestFacts;
pub use limits::LimitSpec;
pub use outcome::{Decision, Failure, Reason};
pub use selftest::TestOutcome;
pub use shape::RequestProblem;

impl Policy {
    /// Compiles the policy with the default [`PolicyConfig`].
    ///
    /// # Errors
    ///
    /// See [`compile_with`](Policy::compile_with).
    pub fn compile(&self) -> Result<CompiledPolicy, PolicyError> {
        self.compile_with(&PolicyConfig::default())
    }

    /// Compiles the policy: validates every pattern and condition, builds
    /// the path trie and finds shadowed rules (see
    /// [`CompiledPolicy::warnings`]).
    ///
    /// # Errors
    ///
    /// [`PolicyError::TooManyRules`]; [`PolicyError::InvalidId`] or
    /// [`PolicyError::DuplicateId`] for empty, long or repeated ids;
    /// [`PolicyError::InvalidValue`] for a bad path pattern, method, host,
    /// CIDR, country, JSON Pointer or header name;
    /// [`PolicyError::InvalidRule`] for an empty or over-long list, or
    /// `anonymous` combined with principal conditions; `InvalidValue` with
    /// field `capture` for a compared capture that some path or host
    /// pattern of the rule does not bind; [`PolicyError::TestFailed`] when
    /// one of the document's embedded `tests` does not get the decision it
    /// expects ([`PolicyError::InvalidTest`] when one is malformed).
    pub fn compile_with(&self, config: &PolicyConfig) -> Result<CompiledPolicy, PolicyError> {
        let compiled = compile::compile(self, config)?;
        selftest::check(self, &compiled)?;
        Ok(compiled)
    }
}

/// Limits and path options for compiling and evaluating a policy. Every
/// limit bounds work done on input that may be hostile (the document, or the
/// request at evaluation time).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicyConfig {
    /// Most rules a document may hold. Default 10 000.
    pub max_rules: usize,
    /// Most entries in any one list of a rule (methods, hosts, paths, roles,
    /// scopes, claims, CIDRs, countries, headers). Default 256.
    pub max_list_len: usize,
    /// Longest path pattern, in bytes. Default 1 024.
    pub max_pattern_len: usize,
    /// Most segments in a path pattern. Default 32.
    pub max_pattern_segments: usize,
    /// Longest rule id, in bytes. Default 128.
    pub max_id_len: usize,
    /// Longest request path evaluated, in bytes; longer requests are refused.
    /// Default 8 192.
    pub max_path_len: usize,
    /// Most segments in a request path; more are refused. Default 128.
    pub max_path_segments: usize,
    /// Most per-rule entries in a default-deny [`Decision`]'s reasons; keeps
    /// audit records bounded when many rules match a route. Default 16.
    pub max_reasons: usize,
    /// Refuse requests whose path contains an encoded `/` (`%2F`) or `\`
    /// (`%5C`). Default `true`: origins differ on whether they decode them,
    /// so `/admin%2Fusers` could reach `/admin/users` behind a policy that
    /// saw one segment. Set to `false` to match them as opaque characters
    /// (`/a%2Fb` then matches the pattern `/a%2Fb`, never `/a/b`). To admit
    /// `%2F` on one route only, keep this on and set `allow_encoded_slash`
    /// in that rule's `match` ([`Match::allow_encoded_slash`]).
    pub reject_encoded_separators: bool,
    /// Refuse requests whose path contains `;` (RFC 3986 §3.3 segment
    /// parameters). Default `true`: servlet containers and some frameworks
    /// strip `;...` from a segment before routing, so `/admin;x/users` would
    /// reach `/admin/users` past a deny rule on `/admin/**`. Set to `false`
    /// to match `;` as an ordinary character (a segment whose part before
    /// `;` is `.` or `..` is still refused).
    pub reject_path_parameters: bool,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            max_rules: 10_000,
            max_list_len: 256,
            max_pattern_len: 1024,
            max_pattern_segments: 32,
            max_id_len: 128,
            max_path_len: 8192,
            max_path_segments: 128,
            max_reasons: 16,
            reject_encoded_separators: true,
            reject_path_parameters: true,
        }
    }
}

/// Why a policy document could not be parsed or compiled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The document is not valid policy JSON (syntax, unknown field, wrong
    /// type).
    #[error("policy document is invalid: {0}")]
    Parse(#[source] crate::json::JsonError),
    /// The document holds more rules than allowed.
    #[error("policy has {count} rules, over the limit of {max}")]
    TooManyRules {
        /// Rules in the document.
        count: usize,
        /// The configured limit.
        max: usize,
    },
    /// A rule id is empty, too long or repeated.
    #[error("rule id `{id}` is invalid: {reason}")]
    InvalidId {
        /// The offending id (truncated when long).
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A rule id appears more than once.
    #[error("rule id `{id}` is used by more than one rule")]
    DuplicateId {
        /// The repeated id.
        id: String,
    },
    /// A field of a rule holds a value that cannot be compiled.
    #[error("rule `{rule}`: invalid {field} `{value}`: {reason}")]
    InvalidValue {
        /// The rule's id.
        rule: String,
        /// The field, e.g. `path pattern`, `method`, `cidr`.
        field: &'static str,
        /// The offending value (truncated when long).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A rule's fields contradict each other or a list is empty or too long.
    #[error("rule `{rule}`: {reason}")]
    InvalidRule {
        /// The rule's id.
        rule: String,
        /// What is wrong.
        reason: String,
    },
    /// An entry of the document's `cors` map cannot be compiled, or a rule
    /// names one that does not exist.
    #[error("cors settings `{name}`: {source}")]
    Cors {
        /// The entry's name.
        name: String,
        /// What is wrong with it.
        #[source]
        source: crate::cors::CorsError,
    },
    /// An embedded test of the policy (`tests` in the document) did not get
    /// the decision it expects: the policy is refused.
    #[error("policy test `{name}` failed: expected {expected}, got {got}")]
    TestFailed {
        /// The test's name.
        name: String,
        /// What the test expected: `allow`, or `allow by rule `x``.
        expected: String,
        /// The decision it got, with the deciding rule and every reason.
        got: String,
    },
    /// An embedded test cannot be run: its request is malformed.
    #[error("policy test `{name}` is invalid: {reason}")]
    InvalidTest {
        /// The test's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A rule names CORS settings the document's `cors` map does not hold.
    #[error("rule `{rule}`: cors settings `{name}` are not defined in the document's `cors` map")]
    UnknownCors {
        /// The rule's id.
        rule: String,
        /// The missing name.
        name: String,
    },
}

/// Shortens a value for an error message so hostile input cannot bloat logs.
pub(crate) fn clip(value: &str) -> String {
    const MAX: usize = 64;
    if value.len() <= MAX {
        return value.to_owned();
    }
    let mut end = MAX;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", value.get(..end).unwrap_or_default())
}
