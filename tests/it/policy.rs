//! Route policy: a table-driven suite over the shipped gateway policy (one
//! `#[test]` per case), compile errors, shadowing, audit records and the
//! example documents in JSON and TOML.

use std::net::IpAddr;
use std::sync::OnceLock;

use edge_auth::Principal;
use edge_auth::oidc::{ClaimSource, RoleMapper};
use edge_auth::policy::{
    CompiledPolicy, Decision, Effect, Failure, PathProfile, Policy, PolicyConfig, PolicyError,
    PolicyWarning, Reason, RequestFacts,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::{Value, json};

const GATEWAY_JSON: &str = include_str!("../../examples/policies/gateway.json");
const GATEWAY_TOML: &str = include_str!("../../examples/policies/gateway.toml");

fn gateway() -> &'static CompiledPolicy {
    static POLICY: OnceLock<CompiledPolicy> = OnceLock::new();
    POLICY.get_or_init(|| {
        Policy::from_json(GATEWAY_JSON)
            .expect("gateway.json parses")
            .compile()
            .expect("gateway.json compiles")
    })
}

// ---------------------------------------------------------------- requests

#[derive(Clone)]
struct Req {
    method: &'static str,
    path: &'static str,
    host: Option<&'static str>,
    ip: Option<&'static str>,
    country: Option<&'static str>,
    headers: Vec<(&'static str, &'static str)>,
}

fn req(method: &'static str, path: &'static str) -> Req {
    Req {
        method,
        path,
        host: None,
        ip: None,
        country: None,
        headers: Vec::new(),
    }
}

fn get(path: &'static str) -> Req {
    req("GET", path)
}

impl Req {
    fn host(mut self, host: &'static str) -> Self {
        self.host = Some(host);
        self
    }
    fn ip(mut self, ip: &'static str) -> Self {
        self.ip = Some(ip);
        self
    }
    fn country(mut self, country: &'static str) -> Self {
        self.country = Some(country);
        self
    }
    fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }

    fn evaluate(&self, policy: &CompiledPolicy, who: Option<&Principal>) -> Decision {
        let method = Method::from_bytes(self.method.as_bytes()).expect("method");
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let mut facts = RequestFacts::new(&method, self.path).with_headers(&headers);
        if let Some(host) = self.host {
            facts = facts.with_host(host);
        }
        if let Some(ip) = self.ip {
            facts = facts.with_client_ip(ip.parse::<IpAddr>().expect("ip"));
        }
        if let Some(country) = self.country {
            facts = facts.with_country(country);
        }
        policy.evaluate(&facts, who)
    }
}

// -------------------------------------------------------------- principals

fn anon() -> Option<Principal> {
    None
}

fn user() -> Option<Principal> {
    Some(Principal::new("user-1").with_issuer("https://idp.example.com"))
}

fn with(roles: &[&str], scopes: &[&str]) -> Option<Principal> {
    user().map(|p| {
        p.with_roles(roles.iter().copied())
            .with_scopes(scopes.iter().copied())
    })
}

fn claims(value: Value) -> Option<Principal> {
    let Value::Object(map) = value else {
        panic!("claims must be an object")
    };
    user().map(|p| p.with_claims(map))
}

// ------------------------------------------------------------ expectations

#[derive(Debug)]
enum Expect {
    /// Allowed by this rule.
    Allow(&'static str),
    /// Denied by this deny rule.
    Deny(&'static str),
    /// No rule applied, and authenticating would not help.
    DefaultDeny,
    /// No rule applied; a principal is what is missing (401).
    Unauthenticated,
    /// No rule applied; these scopes are needed (403 insufficient_scope).
    Scopes(&'static [&'static str]),
    /// The request was refused before matching.
    Rejected,
}

fn check(decision: &Decision, expect: &Expect) {
    let context = serde_json::to_string(decision).expect("serialise");
    match expect {
        Expect::Allow(id) => {
            assert_eq!(decision.effect, Effect::Allow, "{context}");
            assert_eq!(decision.rule_id.as_deref(), Some(*id), "{context}");
            assert!(decision.reasons.is_empty(), "{context}");
        }
        Expect::Deny(id) => {
            assert_eq!(decision.effect, Effect::Deny, "{context}");
            assert_eq!(decision.rule_id.as_deref(), Some(*id), "{context}");
        }
        Expect::DefaultDeny => {
            assert_eq!(decision.effect, Effect::Deny, "{context}");
            assert_eq!(decision.rule_id, None, "{context}");
            assert!(!decision.authentication_required(), "{context}");
            assert!(
                !decision
                    .reasons
                    .iter()
                    .any(|r| matches!(r, Reason::RequestRejected { .. })),
                "{context}"
            );
        }
        Expect::Unauthenticated => {
            assert_eq!(decision.effect, Effect::Deny, "{context}");
            assert_eq!(decision.rule_id, None, "{context}");
            assert!(decision.authentication_required(), "{context}");
        }
        Expect::Scopes(scopes) => {
            assert_eq!(decision.effect, Effect::Deny, "{context}");
            assert!(!decision.authentication_required(), "{context}");
            let want: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
            assert_eq!(decision.required_scopes(), Some(&want[..]), "{context}");
        }
        Expect::Rejected => {
            assert_eq!(decision.effect, Effect::Deny, "{context}");
            assert_eq!(decision.rule_id, None, "{context}");
            assert!(
                matches!(
                    decision.reasons.as_slice(),
                    [Reason::RequestRejected { .. }]
                ),
                "{context}"
            );
        }
    }
}

/// One `#[test]` per case, named after it, against the shipped gateway
/// policy (examples/policies/gateway.json).
macro_rules! cases {
    ($($name:ident: $req:expr, $who:expr => $expect:expr;)*) => {$(
        #[test]
        fn $name() {
            let who = $who;
            let decision = $req.evaluate(gateway(), who.as_ref());
            check(&decision, &$expect);
        }
    )*};
}

use Expect::*;

cases! {
    // Anonymous routes, methods, query and trailing slash.
    health_get_anonymous: get("/healthz"), anon() => Allow("health");
    health_head_anonymous: req("HEAD", "/readyz"), anon() => Allow("health");
    health_post_not_covered: req("POST", "/healthz"), anon() => DefaultDeny;
    health_lowercase_method_is_another_method: req("get", "/healthz"), anon() => DefaultDeny;
    health_query_ignored: get("/healthz?probe=1&x=/admin"), anon() => Allow("health");
    health_fragment_ignored: get("/healthz#top"), anon() => Allow("health");
    health_trailing_slash_is_another_route: get("/healthz/"), anon() => DefaultDeny;
    health_prefix_only_not_matched: get("/healthz/deep"), anon() => DefaultDeny;

    // Precedence: first applying rule wins; deny overrides later allows.
    suspended_user_still_reaches_earlier_health: get("/healthz"), with(&["suspended"], &[]) => Allow("health");
    suspended_user_denied_despite_scope: get("/users/42"), with(&["suspended"], &["users:read"]) => Deny("suspended");
    suspended_admin_denied_on_admin: get("/admin/users").ip("10.1.2.3"), with(&["suspended", "admin"], &[]) => Deny("suspended");
    suspended_deny_does_not_apply_to_anonymous: get("/static/app.js"), anon() => Allow("static");

    // Admin: allow under role + network, then an unconditional deny.
    admin_internal_ipv4: get("/admin/users").ip("10.1.2.3"), with(&["admin"], &[]) => Allow("admin-network");
    admin_ipv4_mapped_ipv6: get("/admin/users").ip("::ffff:10.1.2.3"), with(&["admin"], &[]) => Allow("admin-network");
    admin_ipv6_block: get("/admin/users").ip("2001:db8:ad::5"), with(&["admin"], &[]) => Allow("admin-network");
    admin_ipv6_outside_block: get("/admin/users").ip("2001:db8:ae::5"), with(&["admin"], &[]) => Deny("admin-block");
    admin_single_host_cidr: get("/admin/users").ip("192.168.1.10"), with(&["admin"], &[]) => Allow("admin-network");
    admin_neighbour_host_denied: get("/admin/users").ip("192.168.1.11"), with(&["admin"], &[]) => Deny("admin-block");
    admin_from_internet_denied: get("/admin/users").ip("203.0.113.9"), with(&["admin"], &[]) => Deny("admin-block");
    admin_unknown_ip_not_allowed: get("/admin/users"), with(&["admin"], &[]) => Deny("admin-block");
    admin_anonymous_denied_by_rule: get("/admin/users").ip("10.1.2.3"), anon() => Deny("admin-block");
    admin_without_role_denied: get("/admin/users").ip("10.1.2.3"), user() => Deny("admin-block");
    admin_root_covered_by_double_star: get("/admin").ip("203.0.113.9"), user() => Deny("admin-block");
    admin_root_slash_covered: get("/admin/").ip("203.0.113.9"), user() => Deny("admin-block");
    admin_encoded_letter_normalised: get("/%61dmin/users").ip("203.0.113.9"), user() => Deny("admin-block");
    admin_lowercase_hex_normalised: get("/%61%64%6d%69%6e/users"), user() => Deny("admin-block");
    admin_encoded_slash_rejected: get("/admin%2Fusers"), user() => Rejected;
    admin_case_is_another_route: get("/ADMIN/users"), anon() => DefaultDeny;

    // Static: `*` is one non-empty segment, `**` zero or more.
    static_one_segment: get("/static/app.js"), anon() => Allow("static");
    static_nested_not_matched: get("/static/js/app.js"), anon() => DefaultDeny;
    static_directory_not_matched: get("/static/"), anon() => DefaultDeny;
    static_bare_not_matched: get("/static"), anon() => DefaultDeny;
    static_post_not_covered: req("POST", "/static/app.js"), anon() => DefaultDeny;
    assets_nested: get("/assets/img/logo.png"), anon() => Allow("static");
    assets_root: get("/assets"), anon() => Allow("static");
    assets_trailing_slash: get("/assets/"), anon() => Allow("static");

    // Users: authentication and scopes; 401 vs 403.
    users_list_authenticated: get("/users"), user() => Allow("users-list");
    users_list_anonymous_401: get("/users"), anon() => Unauthenticated;
    users_list_trailing_slash_distinct: get("/users/"), user() => DefaultDeny;
    users_read_with_scope: get("/users/42"), with(&[], &["users:read"]) => Allow("users-read");
    users_read_without_scope_403: get("/users/42"), user() => Scopes(&["users:read"]);
    users_read_anonymous_401: get("/users/42"), anon() => Unauthenticated;
    users_read_encoded_unreserved_matches: get("/users/%34%32"), with(&[], &["users:read"]) => Allow("users-read");
    users_write_role_and_scope: req("PUT", "/users/42"), with(&["user-admin"], &["users:write"]) => Allow("users-write");
    users_write_role_without_scope_403: req("PATCH", "/users/42"), with(&["user-admin"], &[]) => Scopes(&["users:write"]);
    users_write_scope_without_role: req("DELETE", "/users/42"), with(&[], &["users:write"]) => DefaultDeny;
    users_write_lowercase_method: req("delete", "/users/42"), with(&["user-admin"], &["users:write"]) => DefaultDeny;
    users_write_other_method: req("POST", "/users/42"), with(&["user-admin"], &["users:write"]) => DefaultDeny;
    user_posts_two_params: get("/users/7/posts/99"), with(&[], &["posts:read"]) => Allow("user-posts");
    user_posts_missing_param: get("/users/7/posts/"), with(&[], &["posts:read"]) => DefaultDeny;

    // Percent-encoding, dot and empty segments: refused, never normalised.
    encoded_slash_is_not_a_separator: get("/users/a%2Fb"), with(&[], &["users:read"]) => Rejected;
    encoded_slash_lowercase_hex: get("/users/a%2fb"), with(&[], &["users:read"]) => Rejected;
    encoded_backslash_rejected: get("/users/a%5Cb"), with(&[], &["users:read"]) => Rejected;
    dot_dot_segment_rejected: get("/static/../admin/users"), anon() => Rejected;
    encoded_dot_dot_rejected: get("/static/%2e%2E/admin"), anon() => Rejected;
    half_encoded_dot_dot_rejected: get("/static/.%2e/admin"), anon() => Rejected;
    single_dot_rejected: get("/users/./42"), with(&[], &["users:read"]) => Rejected;
    trailing_dot_dot_rejected: get("/assets/.."), anon() => Rejected;
    dot_dot_with_matrix_param_rejected: get("/static/..;/admin"), anon() => Rejected;
    path_parameter_rejected: get("/admin;x=1/users").ip("10.1.2.3"), anon() => Rejected;
    path_parameter_on_allowed_route_rejected: get("/static/app.js;v=2"), anon() => Rejected;
    empty_segment_rejected: get("//users/42"), with(&[], &["users:read"]) => Rejected;
    inner_empty_segment_rejected: get("/assets//x"), anon() => Rejected;
    malformed_percent_rejected: get("/users/%zz"), user() => Rejected;
    truncated_percent_rejected: get("/users/%4"), user() => Rejected;
    encoded_nul_rejected: get("/static/a%00.js"), anon() => Rejected;
    relative_path_rejected: get("users/42"), user() => Rejected;
    asterisk_form_rejected: req("OPTIONS", "*"), anon() => Rejected;
    backslash_rejected: get("/static\\..\\admin"), anon() => Rejected;
    space_rejected: get("/static/a b"), anon() => Rejected;
    dotted_file_name_is_fine: get("/static/.well-known"), anon() => Allow("static");
    triple_dot_is_a_name: get("/static/..."), anon() => Allow("static");

    // Hosts: case-insensitive, port ignored, wildcard below a suffix.
    tenant_api_host_and_claim: get("/api/v1/things").host("api.example.com"), claims(json!({"tenant": {"id": "acme"}})) => Allow("tenant-api");
    tenant_api_host_case_and_port: get("/api/x").host("API.Example.COM:8443"), claims(json!({"tenant": {"id": "acme"}})) => Allow("tenant-api");
    tenant_api_host_empty_port: get("/api/x").host("api.example.com:"), claims(json!({"tenant": {"id": "acme"}})) => Allow("tenant-api");
    tenant_api_host_trailing_dot: get("/api/x").host("api.example.com."), claims(json!({"tenant": {"id": "acme"}})) => Allow("tenant-api");
    tenant_api_wildcard_host: get("/api/x").host("acme.tenants.example.com"), claims(json!({"tenant": {"id": "acme"}})) => Allow("tenant-api");
    tenant_api_wildcard_deep: get("/api/x").host("a.b.tenants.example.com"), claims(json!({"tenant": {"id": "acme"}})) => Allow("tenant-api");
    tenant_api_wildcard_not_apex: get("/api/x").host("tenants.example.com"), claims(json!({"tenant": {"id": "acme"}})) => DefaultDeny;
    tenant_api_lookalike_host: get("/api/x").host("api.example.com.evil.net"), claims(json!({"tenant": {"id": "acme"}})) => DefaultDeny;
    tenant_api_suffix_without_dot: get("/api/x").host("eviltenants.example.com"), claims(json!({"tenant": {"id": "acme"}})) => DefaultDeny;
    tenant_api_wrong_tenant: get("/api/x").host("api.example.com"), claims(json!({"tenant": {"id": "globex"}})) => DefaultDeny;
    tenant_api_claim_type_matters: get("/api/x").host("api.example.com"), claims(json!({"tenant": {"id": ["acme"]}})) => DefaultDeny;
    tenant_api_no_host_not_allowed: get("/api/x"), claims(json!({"tenant": {"id": "acme"}})) => DefaultDeny;
    tenant_api_malformed_host_not_allowed: get("/api/x").host("api.example.com:80:80"), claims(json!({"tenant": {"id": "acme"}})) => DefaultDeny;
    tenant_api_anonymous_401: get("/api/x").host("api.example.com"), anon() => Unauthenticated;

    // Headers and claim contains.
    beta_header_and_group: get("/beta/ui").header("x-beta", "1"), claims(json!({"groups": ["staff", "beta-testers"]})) => Allow("beta");
    beta_header_missing: get("/beta/ui"), claims(json!({"groups": ["beta-testers"]})) => DefaultDeny;
    beta_header_wrong_value: get("/beta/ui").header("x-beta", "2"), claims(json!({"groups": ["beta-testers"]})) => DefaultDeny;
    beta_header_repeated_is_ambiguous: get("/beta/ui").header("x-beta", "1").header("x-beta", "2"), claims(json!({"groups": ["beta-testers"]})) => DefaultDeny;
    beta_group_missing: get("/beta/ui").header("x-beta", "1"), claims(json!({"groups": ["staff"]})) => DefaultDeny;
    beta_group_string_is_not_array: get("/beta/ui").header("x-beta", "1"), claims(json!({"groups": "beta-testers"})) => DefaultDeny;

    // Anonymous + IP + header (webhook).
    webhook_from_github_ipv4: req("POST", "/hooks/github").ip("140.82.115.1").header("x-github-event", "push"), anon() => Allow("github-webhook");
    webhook_from_github_ipv6: req("POST", "/hooks/github").ip("2a0a:a440::1").header("x-github-event", "push"), anon() => Allow("github-webhook");
    webhook_block_edge: req("POST", "/hooks/github").ip("192.30.255.255").header("x-github-event", "ping"), anon() => Allow("github-webhook");
    webhook_just_outside_block: req("POST", "/hooks/github").ip("192.30.251.255").header("x-github-event", "ping"), anon() => DefaultDeny;
    webhook_wrong_ip: req("POST", "/hooks/github").ip("198.51.100.1").header("x-github-event", "push"), anon() => DefaultDeny;
    webhook_unknown_ip: req("POST", "/hooks/github").header("x-github-event", "push"), anon() => DefaultDeny;
    webhook_missing_header: req("POST", "/hooks/github").ip("140.82.115.1"), anon() => DefaultDeny;

    // Country: deny list, fail closed when unknown.
    payments_allowed_country: req("POST", "/payments/charge").country("DE"), with(&[], &["payments"]) => Allow("payments");
    payments_embargoed_country: req("POST", "/payments/charge").country("KP"), with(&[], &["payments"]) => Deny("embargo");
    payments_country_case_insensitive: req("POST", "/payments/charge").country("ir"), with(&[], &["payments"]) => Deny("embargo");
    payments_unknown_country_fails_closed: req("POST", "/payments/charge"), with(&[], &["payments"]) => Deny("embargo");
    payments_malformed_country_fails_closed: req("POST", "/payments/charge").country("Korea"), with(&[], &["payments"]) => Deny("embargo");
    payments_unknown_country_xx_fails_closed: req("POST", "/payments/charge").country("XX"), with(&[], &["payments"]) => Deny("embargo");
    payments_tor_country_code_is_a_code: req("POST", "/payments/charge").country("T1"), with(&[], &["payments"]) => Allow("payments");
    payments_without_scope_403: req("POST", "/payments/charge").country("DE"), user() => Scopes(&["payments"]);

    // Host-bound anonymous docs, trailing-slash pattern, custom method.
    docs_on_docs_host: get("/docs/intro").host("docs.example.com"), anon() => Allow("docs");
    docs_on_other_host: get("/docs/intro").host("www.example.com"), anon() => DefaultDeny;
    legacy_trailing_slash_pattern: get("/v1/items/"), anon() => Allow("legacy-items");
    legacy_without_slash: get("/v1/items"), anon() => DefaultDeny;
    purge_custom_method: req("PURGE", "/cache/img/1"), with(&["cache-admin"], &[]) => Allow("cache-purge");
    purge_lowercase_custom_method: req("purge", "/cache/img/1"), with(&["cache-admin"], &[]) => DefaultDeny;
    unknown_route_denied: get("/nowhere"), with(&[], &["users:read"]) => DefaultDeny;
}

// ------------------------------------------------------- reasons and audit

#[test]
fn no_rule_matched_is_reported() {
    let policy = Policy::from_json(
        r#"{"rules":[{"id":"a","match":{"paths":["/a"]},"require":{"anonymous":true},"effect":"allow"}]}"#,
    )
    .unwrap()
    .compile()
    .unwrap();
    let d = get("/b").evaluate(&policy, None);
    assert_eq!(d.reasons, vec![Reason::NoMatchingRule]);
}

#[test]
fn default_deny_lists_each_failed_rule() {
    let d = get("/users/42").evaluate(gateway(), with(&["staff"], &["posts:read"]).as_ref());
    let failed: Vec<&str> = d
        .reasons
        .iter()
        .filter_map(|r| match r {
            Reason::RequirementsNotMet { rule_id, .. } => Some(rule_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(failed, ["suspended", "users-read"]);
    assert!(d.reasons.iter().any(|r| matches!(r,
        Reason::RequirementsNotMet { rule_id, failures, .. } if rule_id == "users-read"
            && failures == &[Failure::MissingScopes { required: vec!["users:read".into()], missing: vec!["users:read".into()] }])));
}

#[test]
fn unevaluable_deny_reports_why() {
    let d = req("POST", "/payments/charge").evaluate(gateway(), with(&[], &["payments"]).as_ref());
    assert_eq!(d.rule_id.as_deref(), Some("embargo"));
    assert!(
        matches!(&d.reasons[..], [Reason::RequirementsNotMet { failures, .. }]
        if matches!(&failures[..], [Failure::Unevaluable { detail }] if detail.contains("country")))
    );
}

#[test]
fn decision_serialises_to_audit_record() {
    let d = get("/users/42").evaluate(gateway(), user().as_ref());
    let record = serde_json::to_value(&d).unwrap();
    assert_eq!(record["effect"], "deny");
    assert_eq!(record["rule_id"], Value::Null);
    assert_eq!(record["subject"], "user-1");
    assert_eq!(record["issuer"], "https://idp.example.com");
    let reasons = record["reasons"].as_array().unwrap();
    assert!(reasons.iter().any(|r| r["kind"] == "requirements_not_met"
        && r["rule_id"] == "users-read"
        && r["failures"][0]["kind"] == "missing_scopes"));
    let back: Decision = serde_json::from_value(record).unwrap();
    assert_eq!(back, d);

    let allow = get("/healthz").evaluate(gateway(), None);
    assert_eq!(
        serde_json::to_value(&allow).unwrap(),
        json!({"effect": "allow", "rule_id": "health", "reasons": []})
    );
}

#[test]
fn audit_record_never_carries_claims() {
    let who = claims(json!({"tenant": {"id": "acme"}, "secret_note": "s3cr3t"}));
    let d = get("/api/x")
        .host("api.example.com")
        .evaluate(gateway(), who.as_ref());
    let text = serde_json::to_string(&d).unwrap();
    assert!(!text.contains("s3cr3t"), "{text}");
}

#[test]
fn reasons_are_bounded() {
    let rules: Vec<Value> = (0..50)
        .map(|i| json!({"id": format!("r{i}"), "require": {"scopes": [format!("s{i}")]}, "effect": "allow"}))
        .collect();
    let policy: Policy = serde_json::from_value(json!({ "rules": rules })).unwrap();
    let compiled = policy.compile().unwrap();
    let d = get("/x").evaluate(&compiled, user().as_ref());
    assert_eq!(d.reasons.len(), PolicyConfig::default().max_reasons + 1);
    assert_eq!(d.reasons.last(), Some(&Reason::Truncated));
    assert_eq!(d.required_scopes(), Some(&["s0".to_owned()][..]));
}

// --------------------------------------------------------- request facts

#[test]
fn facts_from_parts_use_host_header_and_ignore_query() {
    let request = http::Request::get("/docs/intro?x=1")
        .header("host", "Docs.Example.com:443")
        .body(())
        .unwrap();
    let (parts, ()) = request.into_parts();
    let facts = RequestFacts::from_parts(&parts);
    assert_eq!(facts.path(), "/docs/intro");
    assert_eq!(facts.host(), Some("Docs.Example.com:443"));
    let d = gateway().evaluate(&facts, None);
    assert_eq!(d.rule_id.as_deref(), Some("docs"));
}

#[test]
fn facts_from_parts_prefer_absolute_form_authority() {
    let request = http::Request::get("http://docs.example.com/docs/intro")
        .header("host", "www.example.com")
        .body(())
        .unwrap();
    let (parts, ()) = request.into_parts();
    let facts = RequestFacts::from_parts(&parts);
    assert_eq!(
        gateway().evaluate(&facts, None).rule_id.as_deref(),
        Some("docs")
    );
}

/// A host-scoped deny rule cannot be dodged with another spelling of the
/// host: extra dots (some origins strip every trailing dot) or another
/// form of an IPv6 literal.
#[test]
fn host_deny_rule_is_not_bypassed_by_host_spelling() {
    let policy = Policy::from_json(
        &json!({"rules": [
            {"id": "internal", "match": {"paths": ["/**"], "hosts": ["internal.example.com", "[::1]"]}, "effect": "deny"},
            {"id": "public", "match": {"paths": ["/**"]}, "require": {"anonymous": true}, "effect": "allow"},
        ]})
        .to_string(),
    )
    .unwrap()
    .compile()
    .unwrap();
    let decide =
        |host: &str| policy.evaluate(&RequestFacts::new(&Method::GET, "/x").with_host(host), None);
    assert!(decide("www.example.com").is_allowed());
    for host in [
        "internal.example.com",
        "INTERNAL.example.com.:443",
        "internal.example.com..",
        "internal..example.com",
        ".internal.example.com",
        "[::1]",
        "[0:0:0:0:0:0:0:1]:8080",
        "[::0001]",
        "[::1",
        "[not-v6]",
    ] {
        let d = decide(host);
        assert!(!d.is_allowed(), "{host}: {d:?}");
    }
}

#[test]
fn facts_from_parts_refuse_repeated_host() {
    let request = http::Request::get("/docs/intro")
        .header("host", "docs.example.com")
        .header("host", "www.example.com")
        .body(())
        .unwrap();
    let (parts, ()) = request.into_parts();
    let facts = RequestFacts::from_parts(&parts);
    assert_eq!(facts.host(), None);
    assert!(!gateway().evaluate(&facts, None).is_allowed());
}

#[test]
fn facts_from_parts_carry_headers() {
    let request = http::Request::post("/hooks/github")
        .header("x-github-event", "push")
        .body(())
        .unwrap();
    let (parts, ()) = request.into_parts();
    let facts = RequestFacts::from_parts(&parts).with_client_ip("140.82.112.5".parse().unwrap());
    assert!(gateway().evaluate(&facts, None).is_allowed());
}

// ------------------------------------------------------ encoded separators

#[test]
fn encoded_slash_never_matches_a_separator_when_allowed() {
    let policy = Policy::from_json(
        r#"{"rules":[
            {"id":"split","match":{"paths":["/a/b"]},"require":{"anonymous":true},"effect":"allow"},
            {"id":"opaque","match":{"paths":["/x/a%2fb"]},"require":{"anonymous":true},"effect":"allow"}
        ]}"#,
    )
    .unwrap();
    let mut config = PolicyConfig::default();
    config.reject_encoded_separators = false;
    let compiled = policy.compile_with(&config).unwrap();
    let d = get("/a%2Fb").evaluate(&compiled, None);
    assert_eq!(d.reasons, vec![Reason::NoMatchingRule]);
    assert_eq!(
        get("/a/b").evaluate(&compiled, None).rule_id.as_deref(),
        Some("split")
    );
    assert_eq!(
        get("/x/a%2Fb").evaluate(&compiled, None).rule_id.as_deref(),
        Some("opaque")
    );
    assert_eq!(
        get("/x/a%2fb").evaluate(&compiled, None).rule_id.as_deref(),
        Some("opaque")
    );
    assert!(!get("/x/a/b").evaluate(&compiled, None).is_allowed());
}

#[test]
fn path_parameters_can_be_allowed_but_never_hide_dot_segments() {
    let mut config = PolicyConfig::default();
    config.reject_path_parameters = false;
    let compiled = Policy::from_json(GATEWAY_JSON)
        .unwrap()
        .compile_with(&config)
        .unwrap();
    let d = get("/static/app.js;v=2").evaluate(&compiled, None);
    assert_eq!(d.rule_id.as_deref(), Some("static"));
    let d = get("/admin;x/users").evaluate(&compiled, None);
    assert!(!d.is_allowed());
    let d = get("/static/..;/admin").evaluate(&compiled, None);
    assert!(matches!(d.reasons[..], [Reason::RequestRejected { .. }]));
}

#[test]
fn request_limits_are_enforced() {
    let long: &'static str = Box::leak(format!("/assets/{}", "a".repeat(9000)).into_boxed_str());
    assert!(matches!(
        get(long).evaluate(gateway(), None).reasons[..],
        [Reason::RequestRejected { .. }]
    ));
    let deep: &'static str = Box::leak(format!("/assets{}", "/a".repeat(200)).into_boxed_str());
    assert!(matches!(
        get(deep).evaluate(gateway(), None).reasons[..],
        [Reason::RequestRejected { .. }]
    ));
}

#[test]
fn cidr_zero_prefixes_split_the_families() {
    let policy = Policy::from_json(
        r#"{"rules":[
            {"id":"v4","require":{"anonymous":true,"client_ip":["0.0.0.0/0"]},"effect":"allow"},
            {"id":"v6","require":{"anonymous":true,"client_ip":["::/0"]},"effect":"allow"}
        ]}"#,
    )
    .unwrap()
    .compile()
    .unwrap();
    let who = |ip: &'static str| get("/").ip(ip).evaluate(&policy, None).rule_id;
    assert_eq!(who("198.51.100.1").as_deref(), Some("v4"));
    assert_eq!(who("::ffff:198.51.100.1").as_deref(), Some("v4"));
    assert_eq!(who("2001:db8::1").as_deref(), Some("v6"));
    assert_eq!(who("::1").as_deref(), Some("v6"));
}

#[test]
fn ipv4_mapped_cidr_in_policy_is_ipv4() {
    let policy = Policy::from_json(
        r#"{"rules":[{"id":"m","require":{"anonymous":true,"client_ip":["::ffff:10.0.0.0/104"]},"effect":"allow"}]}"#,
    )
    .unwrap()
    .compile()
    .unwrap();
    assert!(get("/").ip("10.9.8.7").evaluate(&policy, None).is_allowed());
    assert!(
        get("/")
            .ip("::ffff:10.9.8.7")
            .evaluate(&policy, None)
            .is_allowed()
    );
    assert!(!get("/").ip("11.0.0.1").evaluate(&policy, None).is_allowed());
}

#[test]
fn ipv6_host_literal_with_port() {
    let policy = Policy::from_json(
        r#"{"rules":[{"id":"h","match":{"hosts":["[2001:db8::1]"]},"require":{"anonymous":true},"effect":"allow"}]}"#,
    )
    .unwrap()
    .compile()
    .unwrap();
    assert!(
        get("/")
            .host("[2001:DB8::1]:8443")
            .evaluate(&policy, None)
            .is_allowed()
    );
    assert!(
        get("/")
            .host("[2001:db8::1]")
            .evaluate(&policy, None)
            .is_allowed()
    );
    assert!(
        !get("/")
            .host("[2001:db8::2]")
            .evaluate(&policy, None)
            .is_allowed()
    );
    assert!(
        !get("/")
            .host("[2001:db8::1]x")
            .evaluate(&policy, None)
            .is_allowed()
    );
}

// ----------------------------------------- outside review (issue 15) items

/// A principal as the mapper builds it from `roles` (limit 256 values).
fn mapped(claims: Value) -> Principal {
    RoleMapper::new()
        .with_source(ClaimSource::roles("roles").unwrap())
        .with_source(ClaimSource::scopes("scope").unwrap())
        .with_source(ClaimSource::groups("groups").unwrap())
        .map(claims.as_object().unwrap())
}

fn incomplete(d: &Decision, set: &str) -> bool {
    d.reasons.iter().any(|r| {
        matches!(r, Reason::RequirementsNotMet { failures, .. }
            if failures.iter().any(|f| matches!(f, Failure::IncompleteSet { set: s } if s == set)))
    })
}

#[test]
fn truncated_role_list_applies_deny_rules() {
    // 300 roles, `suspended` last: the mapper keeps the first 256.
    let mut roles: Vec<String> = (0..299).map(|i| format!("role-{i:03}")).collect();
    roles.push("suspended".to_owned());
    let p = mapped(json!({ "sub": "u1", "roles": roles, "scope": "users:read" }));
    assert!(!p.has_role("suspended"));
    for path in ["/users", "/users/42"] {
        let d = get(path).evaluate(gateway(), Some(&p));
        assert_eq!(d.effect, Effect::Deny, "{path}");
        assert_eq!(d.rule_id.as_deref(), Some("suspended"), "{path}");
        assert!(incomplete(&d, "roles"), "{path}: {:?}", d.reasons);
    }
    // Allow rules reading the cut set do not apply, even when the value
    // they want was kept.
    let policy = Policy::from_json(
        r#"{"rules":[
            {"id":"admin","match":{"paths":["/admin/**"]},"require":{"any_roles":["role-000"]},"effect":"allow"},
            {"id":"read","match":{"paths":["/read"]},"require":{"scopes":["users:read"]},"effect":"allow"}
        ]}"#,
    )
    .unwrap()
    .compile()
    .unwrap();
    let d = get("/admin/x").evaluate(&policy, Some(&p));
    assert!(!d.is_allowed());
    assert!(incomplete(&d, "roles"), "{:?}", d.reasons);
    // The scopes were not cut: rules on them still decide.
    assert_eq!(
        get("/read").evaluate(&policy, Some(&p)).rule_id.as_deref(),
        Some("read")
    );
    // Only the cut set is unevaluable: 300 groups leave role rules alone.
    let groups: Vec<String> = (0..300).map(|i| format!("g{i}")).collect();
    let p = mapped(json!({ "sub": "u1", "roles": ["role-000"], "groups": groups }));
    assert!(p.truncated && p.roles_complete() && !p.groups_complete());
    assert_eq!(
        get("/admin/x")
            .evaluate(&policy, Some(&p))
            .rule_id
            .as_deref(),
        Some("admin")
    );
    // A principal built by hand with only `truncated` set is incomplete
    // everywhere (fail closed).
    let mut p = Principal::new("u1").with_roles(["role-000"]);
    p.truncated = true;
    assert!(!get("/admin/x").evaluate(&policy, Some(&p)).is_allowed());
}

#[test]
fn distributed_groups_claim_applies_claim_deny_rules() {
    let policy = Policy::from_json(
        r#"{"rules":[
            {"id":"blocked","require":{"claims":[{"pointer":"/groups","contains":"blocked"}]},"effect":"deny"},
            {"id":"beta","match":{"paths":["/beta/**"]},"require":{"claims":[{"pointer":"/groups","contains":"beta"}]},"effect":"allow"},
            {"id":"open","match":{"paths":["/open"]},"require":{"authenticated":true},"effect":"allow"}
        ]}"#,
    )
    .unwrap()
    .compile()
    .unwrap();
    // Entra overage: the groups are behind `_claim_names`, not in the token.
    let overage = mapped(json!({
        "sub": "u1",
        "_claim_names": { "groups": "src1" },
        "_claim_sources": { "src1": { "endpoint": "https://graph.microsoft.com/v1.0/users/u1/getMemberObjects" } },
    }));
    assert!(!overage.groups_complete());
    let d = get("/open").evaluate(&policy, Some(&overage));
    assert_eq!(d.rule_id.as_deref(), Some("blocked"));
    assert!(incomplete(&d, "/groups"), "{:?}", d.reasons);
    // Implicit-flow overage (`hasgroups`) likewise.
    let hasgroups = mapped(json!({ "sub": "u1", "hasgroups": true }));
    let d = get("/open").evaluate(&policy, Some(&hasgroups));
    assert_eq!(d.rule_id.as_deref(), Some("blocked"));
    // A token that lists its groups is judged on them.
    let listed = mapped(json!({ "sub": "u1", "groups": ["beta"] }));
    assert_eq!(
        get("/open")
            .evaluate(&policy, Some(&listed))
            .rule_id
            .as_deref(),
        Some("open")
    );
    assert_eq!(
        get("/beta/x")
            .evaluate(&policy, Some(&listed))
            .rule_id
            .as_deref(),
        Some("beta")
    );
}

#[test]
fn lowercase_method_meets_deny_rule() {
    let policy = Policy::from_json(
        r#"{"rules":[
            {"id":"no-delete","match":{"methods":["DELETE"],"paths":["/users/**"]},"effect":"deny"},
            {"id":"no-purge","match":{"methods":["PURGE"],"paths":["/cache/**"]},"effect":"deny"},
            {"id":"read","match":{"methods":["GET"],"paths":["/users/**"]},"require":{"anonymous":true},"effect":"allow"},
            {"id":"open","require":{"anonymous":true},"effect":"allow"}
        ]}"#,
    )
    .unwrap()
    .compile()
    .unwrap();
    for method in ["DELETE", "delete", "Delete", "dELETE"] {
        let d = req(method, "/users/42").evaluate(&policy, None);
        assert_eq!(d.rule_id.as_deref(), Some("no-delete"), "{method}");
    }
    for method in ["PURGE", "purge"] {
        let d = req(method, "/cache/x").evaluate(&policy, None);
        assert_eq!(d.rule_id.as_deref(), Some("no-purge"), "{method}");
    }
    // Allow rules stay case-sensitive: `get` is not `GET`.
    assert_eq!(
        get("/users/42").evaluate(&policy, None).rule_id.as_deref(),
        Some("read")
    );
    assert_eq!(
        req("get", "/users/42")
            .evaluate(&policy, None)
            .rule_id
            .as_deref(),
        Some("open")
    );
}

const WINDOWS_POLICY: &str = r#"{
  "paths": { "case": "insensitive", "strip_trailing_dots": true, "strip_trailing_spaces": true },
  "rules": [
    {"id":"admin-block","match":{"paths":["/admin/**"]},"effect":"deny"},
    {"id":"reports","match":{"paths":["/Reports/{id}"]},"require":{"anonymous":true},"effect":"allow"},
    {"id":"open","match":{"paths":["/**"]},"require":{"anonymous":true},"effect":"allow"}
  ]
}"#;

#[test]
fn windows_path_profile_closes_case_and_trailing_dot_bypass() {
    let rfc = Policy::from_json(WINDOWS_POLICY).unwrap();
    let mut default = rfc.clone();
    default.paths = PathProfile::default();
    let default = default.compile().unwrap();
    let windows = rfc.compile().unwrap();
    assert_eq!(
        Policy::from_json(WINDOWS_POLICY).unwrap().paths,
        PathProfile::windows()
    );
    for path in [
        "/Admin/users",
        "/ADMIN/users",
        "/admin./users",
        "/admin%20/users",
        "/admin.%20./users",
        "/Admin%2e/users",
        "/adm%C4%B1n/users", // dotless i: upper-cases to `I`
        "/adm%C4%B0n/users", // dotted capital I: compared as itself, stays apart
        "/admin",
        "/admin.",
    ] {
        let d = get(path).evaluate(&windows, None);
        let expect = if path.contains("%C4%B0") {
            Some("open")
        } else {
            Some("admin-block")
        };
        assert_eq!(d.rule_id.as_deref(), expect, "{path}: {:?}", d.reasons);
    }
    // The default profile is RFC 3986: these are other paths.
    for path in ["/Admin/users", "/admin./users", "/admin%20/users"] {
        assert_eq!(
            get(path).evaluate(&default, None).rule_id.as_deref(),
            Some("open"),
            "{path}"
        );
    }
    // Allow rules read the same way, patterns included.
    for path in ["/reports/7", "/REPORTS/7", "/Reports./7", "/reports%20/7"] {
        assert_eq!(
            get(path).evaluate(&windows, None).rule_id.as_deref(),
            Some("reports"),
            "{path}"
        );
    }
    // A segment that strips to nothing would be resolved by the origin.
    for path in ["/x/.../admin", "/x/%20/admin", "/x/..%20/admin"] {
        assert!(
            matches!(
                get(path).evaluate(&windows, None).reasons[..],
                [Reason::RequestRejected { .. }]
            ),
            "{path}"
        );
    }
    // The document field is strict, and a pattern that strips to nothing
    // does not compile.
    assert!(matches!(
        Policy::from_json(r#"{"paths":{"case":"insensitive","strip":true},"rules":[]}"#),
        Err(PolicyError::Parse(_))
    ));
    let bad = r#"{"paths":{"strip_trailing_dots":true},"rules":[
        {"id":"x","match":{"paths":["/a/.../b"]},"effect":"deny"}]}"#;
    assert!(matches!(
        Policy::from_json(bad).unwrap().compile(),
        Err(PolicyError::InvalidValue { .. })
    ));
}

#[test]
fn raw_pipe_brackets_caret_match_their_encoded_forms() {
    let policy = Policy::from_json(
        r#"{"rules":[
            {"id":"deny-pipe","match":{"paths":["/files/a%7Cb/**"]},"effect":"deny"},
            {"id":"search","match":{"paths":["/search/a|b", "/search/x[1]^", "/search/%22%7B%7D%22"]},"require":{"anonymous":true},"effect":"allow"},
            {"id":"files","match":{"paths":["/files/**"]},"require":{"anonymous":true},"effect":"allow"}
        ]}"#,
    )
    .unwrap()
    .compile()
    .unwrap();
    for path in [
        "/search/a|b",
        "/search/a%7Cb",
        "/search/a%7cb",
        "/search/x[1]^",
        "/search/x%5B1%5D%5E",
        "/search/x[1%5D^",
        "/search/\"{}\"",
    ] {
        assert_eq!(
            get(path).evaluate(&policy, None).rule_id.as_deref(),
            Some("search"),
            "{path}"
        );
    }
    // A raw character cannot slip past a deny written encoded.
    assert_eq!(
        get("/files/a|b/x")
            .evaluate(&policy, None)
            .rule_id
            .as_deref(),
        Some("deny-pipe")
    );
    // Through `http::Uri`, as a gateway receives it.
    let parts = http::Request::get("/search/x[1]^?q=a|b")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let d = policy.evaluate(&RequestFacts::from_parts(&parts), None);
    assert_eq!(d.rule_id.as_deref(), Some("search"));
    // A backslash stays refused (Windows origins split on it).
    assert!(!get("/files/a\\b").evaluate(&policy, None).is_allowed());
}

#[test]
fn encoded_slash_is_admitted_only_by_rules_that_opt_in() {
    let doc = r#"{"rules":[
        {"id":"members","match":{"paths":["/api/v4/projects/{id}/members"]},"effect":"deny"},
        {"id":"projects","match":{"paths":["/api/v4/projects/{id}", "/api/v4/projects/{id}/**"],
          "allow_encoded_slash":true},"require":{"authenticated":true},"effect":"allow"},
        {"id":"api","match":{"paths":["/api/**"]},"require":{"authenticated":true},"effect":"allow"}
    ]}"#;
    let policy = Policy::from_json(doc).unwrap().compile().unwrap();
    assert!(policy.warnings().is_empty(), "{:?}", policy.warnings());
    let who = user();
    let d = get("/api/v4/projects/group%2Fproject").evaluate(&policy, who.as_ref());
    assert_eq!(d.rule_id.as_deref(), Some("projects"), "{:?}", d.reasons);
    let d = get("/api/v4/projects/group%2fsub%2Fproject/issues").evaluate(&policy, who.as_ref());
    assert_eq!(d.rule_id.as_deref(), Some("projects"));
    // Without a token: 401, not a refusal, since the opting-in rule matched.
    let d = get("/api/v4/projects/group%2Fproject").evaluate(&policy, None);
    assert!(d.authentication_required(), "{:?}", d.reasons);
    // Deny rules match such paths whatever they say.
    let d = get("/api/v4/projects/group%2Fproject/members").evaluate(&policy, who.as_ref());
    assert_eq!(d.rule_id.as_deref(), Some("members"));
    // Elsewhere `%2F` is still refused, and the reason says how to admit it.
    let d = get("/api/v4/users/a%2Fb").evaluate(&policy, who.as_ref());
    assert!(!d.is_allowed());
    assert!(
        matches!(&d.reasons[0], Reason::RequestRejected { detail } if detail.contains("allow_encoded_slash")),
        "{:?}",
        d.reasons
    );
    // Dot or empty parts behind `%2F` are refused even where it is admitted.
    for path in [
        "/api/v4/projects/group%2F..%2F..%2Fadmin",
        "/api/v4/projects/%2E%2E%2Fadmin",
        "/api/v4/projects/group%2F%2Fp",
        "/api/v4/projects/group%2F",
        "/api/v4/projects/a%5Cb",
    ] {
        let d = get(path).evaluate(&policy, who.as_ref());
        assert!(
            matches!(d.reasons[..], [Reason::RequestRejected { .. }]),
            "{path}: {:?}",
            d.reasons
        );
    }
    // A policy without an opting-in rule refuses outright, naming the way.
    let d = get("/api/v4/projects/group%2Fproject").evaluate(gateway(), who.as_ref());
    assert!(
        matches!(&d.reasons[..], [Reason::RequestRejected { detail }] if detail.contains("allow_encoded_slash")),
        "{:?}",
        d.reasons
    );
}

#[test]
fn windows_origin_example_behaves_as_documented() {
    let text = include_str!("../../examples/policies/windows-origin.json");
    let policy = Policy::from_json(text).unwrap().compile().unwrap();
    assert!(policy.warnings().is_empty(), "{:?}", policy.warnings());
    let reader = with(&[], &["read_api"]);
    let cases: [(&'static str, &'static str, Option<&str>); 7] = [
        ("GET", "/ADMIN./x", Some("admin-block")),
        ("delete", "/api/v4/projects/1", Some("no-delete")),
        ("GET", "/api/v4/projects/group%2Fproject", Some("projects")),
        (
            "GET",
            "/API/V4/Projects/group%2Fproject/issues",
            Some("projects"),
        ),
        ("POST", "/api/v4/users", Some("api")),
        ("GET", "/content/site.css", Some("static")),
        ("GET", "/Content%20/site.css.", Some("static")),
    ];
    for (method, path, rule) in cases {
        let d = req(method, path).evaluate(&policy, reader.as_ref());
        assert_eq!(
            d.rule_id.as_deref(),
            rule,
            "{method} {path}: {:?}",
            d.reasons
        );
    }
    let d = req("POST", "/api/v4/users/a%2Fb").evaluate(&policy, reader.as_ref());
    assert!(matches!(&d.reasons[0], Reason::RequestRejected { .. }));
}

// ---------------------------------------------------------- compile errors

fn compile_err(text: &str) -> PolicyError {
    match Policy::from_json(text) {
        Err(e) => e,
        Ok(policy) => policy.compile().expect_err("policy should not compile"),
    }
}

/// One `#[test]` per invalid document; the error message must contain the
/// given text.
macro_rules! rejects {
    ($($name:ident: $rule:expr => $needle:expr;)*) => {$(
        #[test]
        fn $name() {
            let text = format!(r#"{{"rules":[{}]}}"#, $rule);
            let message = compile_err(&text).to_string();
            assert!(message.contains($needle), "`{message}` lacks `{}`", $needle);
        }
    )*};
}

rejects! {
    reject_unknown_rule_field: r#"{"id":"a","effect":"allow","priority":1}"# => "unknown field `priority`";
    reject_unknown_require_field: r#"{"id":"a","effect":"allow","require":{"role":["x"]}}"# => "unknown field `role`";
    reject_unknown_match_field: r#"{"id":"a","effect":"allow","match":{"path":["/a"]}}"# => "unknown field `path`";
    reject_unknown_effect: r#"{"id":"a","effect":"permit"}"# => "unknown variant `permit`";
    reject_missing_effect: r#"{"id":"a"}"# => "missing field `effect`";
    reject_empty_id: r#"{"id":"","effect":"deny"}"# => "must not be empty";
    reject_duplicate_id: r#"{"id":"a","effect":"deny"},{"id":"a","effect":"allow"}"# => "rule id `a` is used by more than one rule";
    reject_pattern_without_slash: r#"{"id":"a","effect":"deny","match":{"paths":["users"]}}"# => "must start with `/`";
    reject_inner_double_star: r#"{"id":"a","effect":"deny","match":{"paths":["/a/**/b"]}}"# => "only allowed as the last segment";
    reject_partial_wildcard: r#"{"id":"a","effect":"deny","match":{"paths":["/files/*.png"]}}"# => "whole segments";
    reject_partial_param: r#"{"id":"a","effect":"deny","match":{"paths":["/u/{id}.json"]}}"# => "whole segments";
    reject_bad_param_name: r#"{"id":"a","effect":"deny","match":{"paths":["/u/{1d}"]}}"# => "parameter name";
    reject_repeated_param: r#"{"id":"a","effect":"deny","match":{"paths":["/u/{id}/x/{id}"]}}"# => "appears twice";
    reject_empty_pattern_segment: r#"{"id":"a","effect":"deny","match":{"paths":["/a//b"]}}"# => "empty segment";
    reject_dot_pattern_segment: r#"{"id":"a","effect":"deny","match":{"paths":["/a/../b"]}}"# => "dot segment";
    reject_bad_percent_in_pattern: r#"{"id":"a","effect":"deny","match":{"paths":["/a%g0"]}}"# => "percent-encoding";
    reject_empty_paths_list: r#"{"id":"a","effect":"deny","match":{"paths":[]}}"# => "`paths` is empty";
    reject_lowercase_method: r#"{"id":"a","effect":"deny","match":{"methods":["get"]}}"# => "write `GET`";
    reject_method_with_space: r#"{"id":"a","effect":"deny","match":{"methods":["GE T"]}}"# => "method token";
    reject_host_with_port: r#"{"id":"a","effect":"deny","match":{"hosts":["a.example.com:443"]}}"# => "ports are not matched";
    reject_inner_host_wildcard: r#"{"id":"a","effect":"deny","match":{"hosts":["a.*.example.com"]}}"# => "whole leading label";
    reject_bare_host_wildcard: r#"{"id":"a","effect":"deny","match":{"hosts":["*"]}}"# => "whole leading label";
    reject_cidr_host_bits: r#"{"id":"a","effect":"deny","require":{"client_ip":["10.0.0.1/8"]}}"# => "bits set beyond the prefix";
    reject_cidr_long_prefix: r#"{"id":"a","effect":"deny","require":{"client_ip":["10.0.0.0/33"]}}"# => "at most 32";
    reject_cidr_v6_long_prefix: r#"{"id":"a","effect":"deny","require":{"client_ip":["2001:db8::/129"]}}"# => "at most 128";
    reject_cidr_garbage: r#"{"id":"a","effect":"deny","require":{"client_ip":["10.0.0/8"]}}"# => "not an IP address";
    reject_cidr_leading_zero_octet: r#"{"id":"a","effect":"deny","require":{"client_ip":["010.0.0.0/8"]}}"# => "not an IP address";
    reject_cidr_signed_prefix: r#"{"id":"a","effect":"deny","require":{"client_ip":["10.0.0.0/+8"]}}"# => "decimal number";
    reject_cidr_mapped_short_prefix: r#"{"id":"a","effect":"deny","require":{"client_ip":["::ffff:0:0/95"]}}"# => "/96 to /128";
    reject_unknown_country_code: r#"{"id":"a","effect":"deny","require":{"country":["XX"]}}"# => "country is unknown";
    reject_country_name: r#"{"id":"a","effect":"deny","require":{"country":["Germany"]}}"# => "alpha-2";
    reject_pointer_without_slash: r#"{"id":"a","effect":"allow","require":{"claims":[{"pointer":"tid","equals":"x"}]}}"# => "starts with `/`";
    reject_pointer_bad_escape: r#"{"id":"a","effect":"allow","require":{"claims":[{"pointer":"/a~2","equals":"x"}]}}"# => "`~` must be followed";
    reject_claim_both_tests: r#"{"id":"a","effect":"allow","require":{"claims":[{"pointer":"/a","equals":"x","contains":"y"}]}}"# => "exactly one of";
    reject_claim_no_test: r#"{"id":"a","effect":"allow","require":{"claims":[{"pointer":"/a"}]}}"# => "exactly one of";
    reject_bad_header_name: r#"{"id":"a","effect":"allow","require":{"headers":[{"name":"x beta"}]}}"# => "invalid header name";
    reject_anonymous_with_roles: r#"{"id":"a","effect":"allow","require":{"anonymous":true,"any_roles":["x"]}}"# => "`anonymous` cannot be combined";
    reject_anonymous_with_authenticated: r#"{"id":"a","effect":"allow","require":{"anonymous":true,"authenticated":true}}"# => "`anonymous` cannot be combined";
    reject_anonymous_with_sender_constrained: r#"{"id":"a","effect":"allow","require":{"anonymous":true,"sender_constrained":true}}"# => "`anonymous` cannot be combined";
}

#[test]
fn reject_too_many_rules() {
    let policy: Policy = serde_json::from_value(json!({
        "rules": (0..5).map(|i| json!({"id": format!("r{i}"), "effect": "deny"})).collect::<Vec<_>>()
    }))
    .unwrap();
    let mut config = PolicyConfig::default();
    config.max_rules = 4;
    let err = policy.compile_with(&config).unwrap_err();
    assert_eq!(err.to_string(), "policy has 5 rules, over the limit of 4");
}

#[test]
fn reject_overlong_pattern() {
    let pattern = format!("/{}", "a/".repeat(40));
    let err = compile_err(&format!(
        r#"{{"rules":[{{"id":"a","effect":"deny","match":{{"paths":["{pattern}"]}}}}]}}"#
    ));
    assert!(err.to_string().contains("more than 32 segments"), "{err}");
}

#[test]
fn null_claim_value_is_compared() {
    let policy = Policy::from_json(
        r#"{"rules":[{"id":"a","require":{"claims":[{"pointer":"/x","equals":null}]},"effect":"allow"}]}"#,
    )
    .unwrap()
    .compile()
    .unwrap();
    assert!(
        get("/")
            .evaluate(&policy, claims(json!({"x": null})).as_ref())
            .is_allowed()
    );
    assert!(
        !get("/")
            .evaluate(&policy, claims(json!({"x": 0})).as_ref())
            .is_allowed()
    );
    assert!(!get("/").evaluate(&policy, user().as_ref()).is_allowed());
}

#[test]
fn escaped_claim_pointer() {
    let policy = Policy::from_json(
        r#"{"rules":[{"id":"a","require":{"claims":[{"pointer":"/https:~1~1example.com~1roles/0","equals":"x"}]},"effect":"allow"}]}"#,
    )
    .unwrap()
    .compile()
    .unwrap();
    let who = claims(json!({"https://example.com/roles": ["x"]}));
    assert!(get("/").evaluate(&policy, who.as_ref()).is_allowed());
}

// -------------------------------------------------------------- shadowing

#[test]
fn shadowed_rules_are_warned() {
    let policy = Policy::from_json(
        r#"{"rules":[
            {"id":"block-admin","match":{"paths":["/admin/**"]},"effect":"deny"},
            {"id":"admin-report","match":{"methods":["GET"],"paths":["/admin/reports/{id}"]},"require":{"anonymous":true},"effect":"allow"},
            {"id":"public","match":{"methods":["GET"],"paths":["/pub/*"]},"require":{"anonymous":true},"effect":"allow"},
            {"id":"public-file","match":{"methods":["GET"],"paths":["/pub/readme"]},"effect":"deny"},
            {"id":"public-post","match":{"methods":["POST"],"paths":["/pub/readme"]},"effect":"deny"},
            {"id":"pub-dir","match":{"methods":["GET"],"paths":["/pub/"]},"effect":"deny"},
            {"id":"conditional","match":{"paths":["/c/**"]},"require":{"country":["DE"]},"effect":"deny"},
            {"id":"after-conditional","match":{"paths":["/c/x"]},"effect":"deny"},
            {"id":"host-bound","match":{"hosts":["*.example.com"],"paths":["/h/**"]},"effect":"deny"},
            {"id":"host-covered","match":{"hosts":["a.b.example.com"],"paths":["/h/x"]},"effect":"deny"},
            {"id":"host-apex","match":{"hosts":["example.com"],"paths":["/h/x"]},"effect":"deny"}
        ]}"#,
    )
    .unwrap()
    .compile()
    .unwrap();
    let shadowed: Vec<(&str, &str)> = policy
        .warnings()
        .iter()
        .map(|w| match w {
            PolicyWarning::ShadowedRule {
                rule_id,
                shadowed_by,
            } => (rule_id.as_str(), shadowed_by.as_str()),
            other => panic!("unexpected warning {other:?}"),
        })
        .collect();
    assert_eq!(
        shadowed,
        [
            ("admin-report", "block-admin"),
            ("public-file", "public"),
            ("host-covered", "host-bound"),
        ]
    );
    assert!(policy.warnings()[0].to_string().contains("unreachable"));
}

// ------------------------------------------------------ example documents

#[test]
fn example_json_parses_and_compiles_without_warnings() {
    let policy = Policy::from_json(GATEWAY_JSON).unwrap();
    let compiled = policy.compile().unwrap();
    assert_eq!(compiled.len(), policy.rules.len());
    assert!(compiled.warnings().is_empty(), "{:?}", compiled.warnings());
}

#[test]
fn example_toml_parses_compiles_and_equals_json() {
    let from_toml: Policy = toml::from_str(GATEWAY_TOML).unwrap();
    let compiled = from_toml.compile().unwrap();
    assert!(compiled.warnings().is_empty(), "{:?}", compiled.warnings());
    assert_eq!(from_toml, Policy::from_json(GATEWAY_JSON).unwrap());
}

#[test]
fn example_round_trips_through_serde() {
    let policy = Policy::from_json(GATEWAY_JSON).unwrap();
    let text = serde_json::to_string(&policy).unwrap();
    assert_eq!(Policy::from_json(&text).unwrap(), policy);
}

#[test]
fn every_example_document_compiles() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/policies");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let policy: Policy = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Policy::from_json(&text).unwrap(),
            Some("toml") => toml::from_str(&text).unwrap(),
            _ => continue,
        };
        policy
            .compile()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        seen += 1;
    }
    assert!(seen >= 2);
}

// ------------------------------------------------------------- scale

#[test]
fn ten_thousand_rules_compile_and_match_by_trie() {
    let rules: Vec<Value> = (0..10_000)
        .map(|i| {
            json!({"id": format!("r{i}"), "match": {"methods": ["GET"], "paths": [format!("/s{i}/users/{{id}}"), format!("/s{i}/files/**")]},
                   "require": {"scopes": [format!("s{i}:read")]}, "effect": "allow"})
        })
        .collect();
    let policy: Policy = serde_json::from_value(json!({ "rules": rules })).unwrap();
    let compiled = policy.compile().unwrap();
    assert!(compiled.warnings().is_empty());
    let who = with(&[], &["s9876:read"]);
    let d = get("/s9876/users/1").evaluate(&compiled, who.as_ref());
    assert_eq!(d.rule_id.as_deref(), Some("r9876"));
    let d = get("/s9876/files/a/b").evaluate(&compiled, who.as_ref());
    assert_eq!(d.rule_id.as_deref(), Some("r9876"));
    let d = get("/s9875/users/1").evaluate(&compiled, who.as_ref());
    assert_eq!(d.required_scopes(), Some(&["s9875:read".to_owned()][..]));
}

// ------------------------------------------------------------- properties

mod properties {
    use edge_auth::__fuzz::{normalize_request_path, parse_cidr};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn normalising_is_idempotent(path in "/[a-zA-Z0-9%./;~_-]{0,40}") {
            if let Some(once) = normalize_request_path(&path) {
                prop_assert_eq!(normalize_request_path(&once), Some(once.clone()));
                prop_assert!(!once.split('/').any(|s| s == "." || s == ".."));
            }
        }

        #[test]
        fn cidr_display_round_trips(a in any::<u32>(), len in 0u8..=32) {
            let masked = if len == 0 { 0 } else { a & (u32::MAX << (32 - u32::from(len))) };
            let text = format!("{}/{len}", std::net::Ipv4Addr::from(masked));
            prop_assert_eq!(parse_cidr(&text), Some(text.clone()));
        }
    }
}

// ------------------------------------------------------------- captures

const CAPTURES: &str = r#"{ "rules": [
  { "id": "tenant-orders", "match": { "methods": ["GET"],
      "paths": ["/tenants/{tenant}/orders", "/tenants/{tenant}/orders/{id}"] },
    "require": { "claims": [ { "claim": "/tid", "equals_capture": "tenant" } ] }, "effect": "allow" },
  { "id": "own-profile", "match": { "paths": ["/users/{id}/profile"] },
    "require": { "subject_equals_capture": "id" }, "effect": "allow" },
  { "id": "admin-profile", "match": { "paths": ["/users/{id}/profile"] },
    "require": { "any_roles": ["admin"] }, "effect": "allow" },
  { "id": "host-tenant", "match": { "hosts": ["{tenant}.api.example.com"], "paths": ["/reports/**"] },
    "require": { "claims": [ { "claim": "/tid", "equals_capture": "tenant" } ] }, "effect": "allow" },
  { "id": "host-and-path", "match": { "hosts": ["{org}.orgs.example.com"], "paths": ["/orgs/{org}/**"] },
    "require": { "claims": [ { "claim": "/org", "equals_capture": "org" } ] }, "effect": "allow" },
  { "id": "twice", "match": { "paths": ["/pairs/{t}"] },
    "require": { "claims": [ { "claim": "/tid", "equals_capture": "t" },
                             { "claim": "/home", "equals_capture": "t" } ] }, "effect": "allow" },
  { "id": "member", "match": { "paths": ["/projects/{p}/**"] },
    "require": { "claims": [ { "claim": "/projects", "contains_capture": "p" } ] }, "effect": "allow" },
  { "id": "blocked-tenant", "match": { "paths": ["/blocked/{t}/**"] },
    "require": { "claims": [ { "claim": "/blocked", "contains_capture": "t" } ] }, "effect": "deny" },
  { "id": "blocked-open", "match": { "paths": ["/blocked/**"] },
    "require": { "authenticated": true }, "effect": "allow" }
] }"#;

fn captures_policy() -> &'static CompiledPolicy {
    static POLICY: OnceLock<CompiledPolicy> = OnceLock::new();
    POLICY.get_or_init(|| Policy::from_json(CAPTURES).unwrap().compile().unwrap())
}

fn subject(sub: &str, value: Value) -> Option<Principal> {
    let Value::Object(map) = value else {
        panic!("claims must be an object")
    };
    Some(Principal::new(sub).with_claims(map))
}

/// What a capture case expects.
#[derive(Debug)]
enum CaptureExpect {
    /// Allowed by this rule.
    Allow(&'static str),
    /// Default deny, with this rule failing a comparison of this capture.
    Mismatch(&'static str, &'static str),
    /// Default deny, with this rule unevaluable for a reason holding this
    /// text.
    Unevaluable(&'static str, &'static str),
    /// Denied by this deny rule (fail closed or applied).
    Deny(&'static str),
    /// Denied without a rule (no match or refused).
    DefaultDeny,
}

fn check_capture(decision: &Decision, expect: &CaptureExpect) {
    let context = serde_json::to_string(decision).unwrap();
    let failures_of = |rule: &str| -> Vec<Failure> {
        decision
            .reasons
            .iter()
            .find_map(|r| match r {
                Reason::RequirementsNotMet {
                    rule_id, failures, ..
                } if rule_id == rule => Some(failures.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no reason for `{rule}`: {context}"))
    };
    match expect {
        CaptureExpect::Allow(id) => {
            assert_eq!(decision.effect, Effect::Allow, "{context}");
            assert_eq!(decision.rule_id.as_deref(), Some(*id), "{context}");
        }
        CaptureExpect::Mismatch(rule, capture) => {
            assert_eq!(decision.effect, Effect::Deny, "{context}");
            assert_eq!(decision.rule_id, None, "{context}");
            assert!(
                failures_of(rule).iter().any(
                    |f| matches!(f, Failure::CaptureMismatch { capture: c, .. } if c == capture)
                ),
                "{context}"
            );
        }
        CaptureExpect::Unevaluable(rule, text) => {
            assert_eq!(decision.effect, Effect::Deny, "{context}");
            assert_eq!(decision.rule_id, None, "{context}");
            assert!(
                failures_of(rule)
                    .iter()
                    .any(|f| matches!(f, Failure::Unevaluable { detail } if detail.contains(text))),
                "{context}"
            );
        }
        CaptureExpect::Deny(id) => {
            assert_eq!(decision.effect, Effect::Deny, "{context}");
            assert_eq!(decision.rule_id.as_deref(), Some(*id), "{context}");
        }
        CaptureExpect::DefaultDeny => {
            assert_eq!(decision.effect, Effect::Deny, "{context}");
            assert_eq!(decision.rule_id, None, "{context}");
        }
    }
}

macro_rules! capture_cases {
    ($($name:ident: $req:expr, $who:expr => $expect:expr;)*) => {$(
        #[test]
        fn $name() {
            let who = $who;
            let decision = $req.evaluate(captures_policy(), who.as_ref());
            check_capture(&decision, &$expect);
        }
    )*};
}

use CaptureExpect as C;

capture_cases! {
    capture_tenant_match: get("/tenants/t1/orders"), claims(json!({"tid": "t1"})) => C::Allow("tenant-orders");
    capture_tenant_match_second_pattern: get("/tenants/t1/orders/42"), claims(json!({"tid": "t1"})) => C::Allow("tenant-orders");
    capture_tenant_mismatch: get("/tenants/t2/orders"), claims(json!({"tid": "t1"})) => C::Mismatch("tenant-orders", "tenant");
    capture_tenant_case_differs: get("/tenants/T1/orders"), claims(json!({"tid": "t1"})) => C::Mismatch("tenant-orders", "tenant");
    capture_encoded_unreserved_is_decoded: get("/tenants/%74%31/orders"), claims(json!({"tid": "t1"})) => C::Allow("tenant-orders");
    capture_encoded_separator_is_refused: get("/tenants/t1%2Fx/orders"), claims(json!({"tid": "t1/x"})) => C::DefaultDeny;
    capture_encoded_reserved_never_matches: get("/tenants/t1%3Ax/orders"), claims(json!({"tid": "t1:x"})) => C::Unevaluable("tenant-orders", "not only unreserved");
    capture_encoded_claim_text_never_matches: get("/tenants/t1%3Ax/orders"), claims(json!({"tid": "t1%3Ax"})) => C::Unevaluable("tenant-orders", "not only unreserved");
    capture_unicode_raw_never_matches: get("/tenants/müller/orders"), claims(json!({"tid": "müller"})) => C::Unevaluable("tenant-orders", "not only unreserved");
    capture_unicode_encoded_never_matches: get("/tenants/m%C3%BCller/orders"), claims(json!({"tid": "müller"})) => C::Unevaluable("tenant-orders", "not only unreserved");
    capture_missing_claim_is_unevaluable: get("/tenants/t1/orders"), claims(json!({})) => C::Unevaluable("tenant-orders", "claim `/tid` is missing");
    capture_non_string_claim_mismatches: get("/tenants/1/orders"), claims(json!({"tid": 1})) => C::Mismatch("tenant-orders", "tenant");
    capture_equals_against_array_claim_mismatches: get("/tenants/t1/orders"), claims(json!({"tid": ["t1"]})) => C::Mismatch("tenant-orders", "tenant");
    capture_contains_in_array_claim: get("/projects/p2/files"), claims(json!({"projects": ["p1", "p2"]})) => C::Allow("member");
    capture_contains_not_in_array_claim: get("/projects/p3/files"), claims(json!({"projects": ["p1", "p2"]})) => C::Mismatch("member", "p");
    capture_contains_against_string_claim_mismatches: get("/projects/p1/files"), claims(json!({"projects": "p1"})) => C::Mismatch("member", "p");
    capture_used_twice_both_hold: get("/pairs/t1"), claims(json!({"tid": "t1", "home": "t1"})) => C::Allow("twice");
    capture_used_twice_one_fails: get("/pairs/t1"), claims(json!({"tid": "t1", "home": "t2"})) => C::Mismatch("twice", "t");
    capture_host_match: get("/reports/q1").host("t1.api.example.com"), claims(json!({"tid": "t1"})) => C::Allow("host-tenant");
    capture_host_is_case_insensitive: get("/reports/q1").host("T1.API.example.com:8443"), claims(json!({"tid": "t1"})) => C::Allow("host-tenant");
    capture_host_mismatch: get("/reports/q1").host("t2.api.example.com"), claims(json!({"tid": "t1"})) => C::Mismatch("host-tenant", "tenant");
    capture_host_two_labels_do_not_match: get("/reports/q1").host("a.t1.api.example.com"), claims(json!({"tid": "t1"})) => C::DefaultDeny;
    capture_host_unknown_is_unevaluable: get("/reports/q1"), claims(json!({"tid": "t1"})) => C::Unevaluable("host-tenant", "host is unknown");
    capture_bound_by_host_and_path_agree: get("/orgs/acme/x").host("acme.orgs.example.com"), claims(json!({"org": "acme"})) => C::Allow("host-and-path");
    capture_bound_by_host_and_path_disagree: get("/orgs/other/x").host("acme.orgs.example.com"), claims(json!({"org": "acme"})) => C::Mismatch("host-and-path", "org");
    capture_subject_match: get("/users/alice/profile"), subject("alice", json!({})) => C::Allow("own-profile");
    capture_subject_mismatch: get("/users/alice/profile"), subject("bob", json!({})) => C::Mismatch("own-profile", "id");
    capture_subject_mismatch_admin_allowed: get("/users/alice/profile"), subject("bob", json!({})).map(|p| p.with_roles(["admin"])) => C::Allow("admin-profile");
    capture_deny_applies_when_listed: get("/blocked/t1/x"), claims(json!({"blocked": ["t1"]})) => C::Deny("blocked-tenant");
    capture_deny_passes_when_not_listed: get("/blocked/t1/x"), claims(json!({"blocked": ["t2"]})) => C::Allow("blocked-open");
    capture_deny_applies_when_claim_missing: get("/blocked/t1/x"), claims(json!({})) => C::Deny("blocked-tenant");
    capture_deny_applies_when_capture_uncomparable: get("/blocked/t%C3%BC/x"), claims(json!({"blocked": []})) => C::Deny("blocked-tenant");
    capture_rest_pattern_with_empty_tail: get("/projects/p2"), claims(json!({"projects": ["p2"]})) => C::Allow("member");
    capture_distributed_claim_is_not_compared: get("/tenants/t1/orders"), claims(json!({"tid": "t1", "_claim_names": {"tid": "src1"}})) => C::DefaultDeny;
}

#[test]
fn capture_without_principal_asks_to_authenticate() {
    let decision = get("/tenants/t1/orders").evaluate(captures_policy(), None);
    assert!(decision.authentication_required(), "{decision:?}");
}

#[test]
fn capture_mismatch_names_rule_capture_and_claim() {
    let decision = get("/tenants/t2/orders")
        .evaluate(captures_policy(), claims(json!({"tid": "t1"})).as_ref());
    let reason = serde_json::to_value(&decision.reasons).unwrap();
    assert_eq!(
        reason[0],
        json!({"kind": "requirements_not_met", "rule_id": "tenant-orders", "effect": "allow",
               "failures": [{"kind": "capture_mismatch", "capture": "tenant", "value": "t2", "with": "/tid"}]})
    );
}

#[test]
fn capture_with_encoded_separators_admitted_still_never_matches() {
    let mut config = PolicyConfig::default();
    config.reject_encoded_separators = false;
    let policy = Policy::from_json(CAPTURES)
        .unwrap()
        .compile_with(&config)
        .unwrap();
    let decision =
        get("/tenants/t1%2Fx/orders").evaluate(&policy, claims(json!({"tid": "t1/x"})).as_ref());
    check_capture(
        &decision,
        &C::Unevaluable("tenant-orders", "not only unreserved"),
    );
}

rejects! {
    reject_capture_not_bound: r#"{"id":"a","effect":"allow","match":{"paths":["/t/{x}","/u"]},"require":{"claims":[{"claim":"/tid","equals_capture":"x"}]}}"# => "not bound by every path pattern";
    reject_capture_without_paths: r#"{"id":"a","effect":"allow","require":{"subject_equals_capture":"x"}}"# => "not bound";
    reject_capture_and_value: r#"{"id":"a","effect":"allow","match":{"paths":["/t/{x}"]},"require":{"claims":[{"claim":"/tid","equals":"a","equals_capture":"x"}]}}"# => "exactly one of";
    reject_host_capture_inside_label: r#"{"id":"a","effect":"allow","match":{"hosts":["{t}x.example.com"]}}"# => "whole leading label";
    reject_host_capture_bad_name: r#"{"id":"a","effect":"allow","match":{"hosts":["{1t}.example.com"]}}"# => "parameter name";
    reject_anonymous_with_capture: r#"{"id":"a","effect":"allow","match":{"paths":["/t/{x}"]},"require":{"anonymous":true,"subject_equals_capture":"x"}}"# => "`anonymous` cannot be combined";
    reject_request_shape_on_deny: r#"{"id":"a","effect":"deny","request":{"max_body_bytes":1}}"# => "for allow rules";
    reject_request_bad_content_type: r#"{"id":"a","effect":"allow","request":{"content_types":["json"]}}"# => "`type/subtype`";
    reject_request_content_type_with_params: r#"{"id":"a","effect":"allow","request":{"content_types":["application/json; charset=utf-8"]}}"# => "`type/subtype`";
    reject_request_empty_headers: r#"{"id":"a","effect":"allow","request":{"headers":[]}}"# => "has 0 entries";
}

// --------------------------------------------------------- request shape

const SHAPE: &str = r#"{ "rules": [
  { "id": "upload", "match": { "methods": ["POST"], "paths": ["/upload"] },
    "require": { "anonymous": true }, "effect": "allow",
    "request": { "headers": [ { "name": "x-request-id", "pattern": "req-*" } ],
                 "content_types": ["application/json", "text/*"], "max_body_bytes": 1024 } }
] }"#;

fn shape_policy() -> &'static CompiledPolicy {
    static POLICY: OnceLock<CompiledPolicy> = OnceLock::new();
    POLICY.get_or_init(|| Policy::from_json(SHAPE).unwrap().compile().unwrap())
}

fn upload() -> Req {
    req("POST", "/upload").header("x-request-id", "req-1")
}

/// One `#[test]` per case: the status the gate answers (200 for an allow).
macro_rules! shape_cases {
    ($($name:ident: $req:expr => $status:expr;)*) => {$(
        #[test]
        fn $name() {
            let decision = $req.evaluate(shape_policy(), None);
            let status = if decision.is_allowed() {
                200
            } else {
                let rejection = edge_auth::response::Rejection::for_decision(&decision, None);
                let response = rejection.to_response();
                assert!(response.headers().get("www-authenticate").is_none());
                assert_eq!(decision.rule_id.as_deref(), Some("upload"), "{decision:?}");
                assert!(decision.request_problem().is_some(), "{decision:?}");
                response.status().as_u16()
            };
            assert_eq!(status, $status, "{decision:?}");
        }
    )*};
}

shape_cases! {
    shape_compliant_json: upload().header("content-type", "application/json").header("content-length", "10") => 200;
    shape_compliant_with_charset: upload().header("content-type", "Application/JSON; charset=utf-8").header("content-length", "10") => 200;
    shape_compliant_type_wildcard: upload().header("content-type", "text/plain").header("content-length", "10") => 200;
    shape_no_body_needs_no_type: upload().header("content-length", "0") => 200;
    shape_no_length_no_body: upload() => 200;
    shape_at_the_limit: upload().header("content-type", "application/json").header("content-length", "1024") => 200;
    shape_missing_header: req("POST", "/upload").header("content-type", "application/json").header("content-length", "2") => 400;
    shape_header_not_matching: req("POST", "/upload").header("x-request-id", "id-1") => 400;
    shape_header_repeated: upload().header("x-request-id", "req-2") => 400;
    shape_body_too_large: upload().header("content-type", "application/json").header("content-length", "1025") => 413;
    shape_length_not_a_number: upload().header("content-type", "application/json").header("content-length", "+5") => 400;
    shape_length_repeated: upload().header("content-type", "application/json").header("content-length", "5").header("content-length", "5") => 400;
    shape_chunked_body_of_unknown_length: upload().header("content-type", "application/json").header("transfer-encoding", "chunked") => 400;
    shape_length_and_chunked: upload().header("content-type", "application/json").header("content-length", "5").header("transfer-encoding", "chunked") => 400;
    shape_wrong_media_type: upload().header("content-type", "application/xml").header("content-length", "10") => 415;
    shape_body_without_media_type: upload().header("content-length", "10") => 415;
    shape_media_type_prefix_is_not_enough: upload().header("content-type", "application/jsonx").header("content-length", "10") => 415;
}

#[test]
fn shape_without_headers_is_refused() {
    let method = Method::POST;
    let decision = shape_policy().evaluate(&RequestFacts::new(&method, "/upload"), None);
    assert_eq!(decision.effect, Effect::Deny);
    assert_eq!(
        decision.request_problem(),
        Some(&edge_auth::policy::RequestProblem::HeadersUnknown)
    );
}

#[test]
fn shape_reason_reaches_the_audit_record() {
    let decision = upload()
        .header("content-type", "application/json")
        .header("content-length", "4096")
        .evaluate(shape_policy(), None);
    let rejection = edge_auth::response::Rejection::for_decision(&decision, None);
    let audit = serde_json::to_value(&rejection).unwrap();
    assert_eq!(audit["status"], 413);
    assert_eq!(audit["rule"], "upload");
    assert_eq!(
        audit["reason"],
        "declared body of 4096 bytes is over the limit of 1024"
    );
}

// ---------------------------------------------------- embedded policy tests

fn with_tests(tests: Value) -> Result<CompiledPolicy, PolicyError> {
    let mut doc: Value = serde_json::from_str(CAPTURES).unwrap();
    doc["tests"] = tests;
    serde_json::from_value::<Policy>(doc).unwrap().compile()
}

#[test]
fn embedded_tests_that_pass_compile() {
    let compiled = with_tests(json!([
        { "name": "tenant reads its orders", "request": "GET /tenants/t1/orders",
          "principal": { "subject": "alice", "claims": { "tid": "t1" } },
          "expect": "allow", "rule": "tenant-orders" },
        { "name": "other tenant is refused", "request": "GET /tenants/t2/orders",
          "principal": { "claims": { "sub": "alice", "tid": "t1" } }, "expect": "deny" },
        { "name": "admin reads any profile", "request": "GET /users/alice/profile",
          "principal": { "subject": "bob", "roles": ["admin"] },
          "expect": "allow", "rule": "admin-profile" },
        { "name": "host tenant", "request": "GET /reports/q1", "host": "t1.api.example.com",
          "principal": { "subject": "x", "claims": { "tid": "t1" } }, "expect": "allow" }
    ]));
    assert!(compiled.is_ok(), "{compiled:?}");
}

#[test]
fn embedded_test_failing_refuses_the_policy() {
    let err = with_tests(json!([
        { "name": "passes", "request": "GET /tenants/t1/orders",
          "principal": { "subject": "alice", "claims": { "tid": "t1" } }, "expect": "allow" },
        { "name": "cross-tenant read", "request": "GET /tenants/t2/orders",
          "principal": { "subject": "alice", "claims": { "tid": "t1" } }, "expect": "allow" }
    ]))
    .unwrap_err();
    let PolicyError::TestFailed {
        name,
        expected,
        got,
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(name, "cross-tenant read");
    assert_eq!(expected, "allow");
    assert!(got.starts_with("deny (no rule decided)"), "{got}");
    assert!(got.contains("capture_mismatch"), "{got}");
    let message = err.to_string();
    assert!(
        message.starts_with("policy test `cross-tenant read` failed: expected allow, got deny"),
        "{message}"
    );
}

#[test]
fn embedded_test_expecting_another_rule_refuses_the_policy() {
    let err = with_tests(json!([
        { "name": "wrong rule", "request": "GET /users/alice/profile",
          "principal": { "subject": "alice" }, "expect": "allow", "rule": "admin-profile" }
    ]))
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("expected allow by rule `admin-profile`, got allow by rule `own-profile`"),
        "{err}"
    );
}

#[test]
fn embedded_test_with_malformed_request_is_invalid() {
    let err = with_tests(json!([
        { "name": "no path", "request": "GET", "expect": "deny" }
    ]))
    .unwrap_err();
    assert!(matches!(err, PolicyError::InvalidTest { .. }), "{err}");
}

#[test]
fn embedded_test_names_are_unique() {
    let err = with_tests(json!([
        { "name": "a", "request": "GET /x", "expect": "deny" },
        { "name": "a", "request": "GET /y", "expect": "deny" }
    ]))
    .unwrap_err();
    assert!(err.to_string().contains("more than one test"), "{err}");
}

#[test]
fn run_tests_reports_every_outcome() {
    let mut doc: Value = serde_json::from_str(CAPTURES).unwrap();
    let compiled = serde_json::from_value::<Policy>(doc.clone())
        .unwrap()
        .compile()
        .unwrap();
    doc["tests"] = json!([
        { "name": "ok", "request": "GET /x", "expect": "deny" },
        { "name": "bad", "request": "GET /x", "expect": "allow" }
    ]);
    let policy: Policy = serde_json::from_value(doc).unwrap();
    let outcomes = policy.run_tests(&compiled).unwrap();
    let passed: Vec<(&str, bool)> = outcomes
        .iter()
        .map(|o| (o.name.as_str(), o.passed))
        .collect();
    assert_eq!(passed, [("ok", true), ("bad", false)]);
}

#[test]
fn every_example_document_carries_tests() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/policies");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let policy: Policy = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Policy::from_json(&text).unwrap(),
            Some("toml") => toml::from_str(&text).unwrap(),
            _ => continue,
        };
        assert!(policy.tests.len() >= 2, "{} has no tests", path.display());
    }
}

// ------------------------------------------------------------- reload

mod reload {
    use std::sync::Arc;

    use edge_auth::gate::{Gate, GateConfig, IssuerConfig, Outcome};
    use edge_auth::oidc::RoleMapper;
    use edge_auth::policy::{CompiledPolicy, Policy, RequestFacts};
    use proptest::prelude::*;
    use time::macros::datetime;

    const ISSUER: &str = "https://idp.example.com";

    fn gate(policy: CompiledPolicy) -> Gate {
        let issuer =
            IssuerConfig::new(ISSUER, ["api"]).with_jwks_uri("https://idp.example.com/jwks");
        Gate::new(GateConfig::new([issuer]).with_policy(policy)).unwrap()
    }

    fn compile(text: &str) -> CompiledPolicy {
        Policy::from_json(text).unwrap().compile().unwrap()
    }

    /// What a driver would send back, comparable across checks.
    fn answer(gate: &Gate, method: &str, path: &str) -> String {
        let (parts, ()) = http::Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap()
            .into_parts();
        let now = datetime!(2026-12-07 12:00:00 UTC);
        match gate.check(&parts, &RequestFacts::from_parts(&parts), now) {
            Outcome::Allow { decision, .. } => {
                format!("allow {}", serde_json::to_string(&decision).unwrap())
            }
            Outcome::Deny(r) => format!("deny {}", serde_json::to_string(&r).unwrap()),
            Outcome::FetchKeys(_) | Outcome::Preflight(_) => "other".to_owned(),
        }
    }

    const OPEN: &str = r#"{"rules":[{"id":"open","match":{"paths":["/**"]},"require":{"anonymous":true},"effect":"allow"}]}"#;
    const CLOSED: &str = r#"{"rules":[{"id":"closed","match":{"paths":["/**"]},"effect":"deny"}]}"#;

    #[test]
    fn replace_policy_applies_to_the_next_check() {
        let gate = gate(compile(OPEN));
        assert!(answer(&gate, "GET", "/a").starts_with("allow"));
        assert_eq!(gate.policy_generation(), 0);
        gate.replace_policy(compile(CLOSED));
        assert!(answer(&gate, "GET", "/a").starts_with("deny"));
        assert_eq!(gate.policy_generation(), 1);
    }

    #[test]
    fn a_policy_taken_before_a_swap_stays_whole() {
        let gate = gate(compile(OPEN));
        let before = gate.policy();
        gate.replace_policy(compile(CLOSED));
        let get = http::Method::GET;
        let facts = RequestFacts::new(&get, "/a");
        assert!(before.evaluate(&facts, None).is_allowed());
        assert!(!gate.policy().evaluate(&facts, None).is_allowed());
    }

    #[test]
    fn replace_authorization_with_unknown_issuer_changes_nothing() {
        let gate = gate(compile(OPEN));
        let err = gate
            .replace_authorization(
                compile(CLOSED),
                [("https://other.example.com", RoleMapper::new())],
            )
            .unwrap_err();
        assert!(err.to_string().contains("other.example.com"), "{err}");
        assert_eq!(gate.policy_generation(), 0);
        assert!(answer(&gate, "GET", "/a").starts_with("allow"));
    }

    #[test]
    fn replace_authorization_swaps_policy_and_mappers() {
        let gate = gate(compile(OPEN));
        gate.replace_authorization(compile(CLOSED), [(ISSUER, RoleMapper::new())])
            .unwrap();
        assert_eq!(gate.policy_generation(), 1);
        assert!(answer(&gate, "GET", "/a").starts_with("deny"));
    }

    // Random policies from a small vocabulary, so that rules overlap.
    const PATHS: [&str; 5] = ["/a", "/a/{x}", "/a/**", "/b/*", "/**"];
    const REQUESTS: [(&str, &str); 6] = [
        ("GET", "/a"),
        ("GET", "/a/1"),
        ("POST", "/a/1/2"),
        ("GET", "/b/x"),
        ("DELETE", "/c"),
        ("GET", "/a/%2F"),
    ];

    fn rule() -> impl Strategy<Value = serde_json::Value> {
        (
            0..PATHS.len(),
            any::<bool>(),
            any::<bool>(),
            prop::option::of(prop::sample::select(vec!["GET", "POST", "DELETE"])),
        )
            .prop_map(|(path, allow, anonymous, method)| {
                let mut rule = serde_json::json!({
                    "match": { "paths": [PATHS[path]] },
                    "effect": if allow { "allow" } else { "deny" },
                });
                if let Some(m) = method {
                    rule["match"]["methods"] = serde_json::json!([m]);
                }
                if allow && anonymous {
                    rule["require"] = serde_json::json!({ "anonymous": true });
                }
                rule
            })
    }

    fn policy() -> impl Strategy<Value = CompiledPolicy> {
        prop::collection::vec(rule(), 0..6).prop_map(|rules| {
            let rules: Vec<_> = rules
                .into_iter()
                .enumerate()
                .map(|(i, mut r)| {
                    r["id"] = serde_json::json!(format!("r{i}"));
                    r
                })
                .collect();
            serde_json::from_value::<Policy>(serde_json::json!({ "rules": rules }))
                .unwrap()
                .compile()
                .unwrap()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Swaps under concurrent evaluation: every answer is the old
        /// policy's or the new one's for that request, never a mix.
        #[test]
        fn swaps_under_concurrent_checks_give_old_or_new(old in policy(), new in policy()) {
            let expect: Vec<(String, String)> = REQUESTS
                .iter()
                .map(|(m, p)| {
                    (answer(&gate(old.clone()), m, p), answer(&gate(new.clone()), m, p))
                })
                .collect();
            let shared = Arc::new(gate(old.clone()));
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    let gate = Arc::clone(&shared);
                    let expect = expect.clone();
                    std::thread::spawn(move || {
                        for round in 0..300 {
                            let i = round % REQUESTS.len();
                            let (m, p) = REQUESTS[i];
                            let got = answer(&gate, m, p);
                            let (a, b) = &expect[i];
                            assert!(got == *a || got == *b, "{m} {p}: {got}\nold {a}\nnew {b}");
                        }
                    })
                })
                .collect();
            for swap in 0..100 {
                let next = if swap % 2 == 0 { new.clone() } else { old.clone() };
                shared.replace_policy(next);
            }
            for reader in readers {
                prop_assert!(reader.join().is_ok());
            }
        }
    }
}

// ------------------------------------------------- reload in the drivers

mod reload_drivers {
    use std::sync::Arc;
    use std::time::Duration;

    use edge_auth::driver::keys::{
        DriverError, FetchFuture, FetchRequest, FetchResponse, HttpClient,
    };
    use edge_auth::driver::reload::{PolicyReloader, ReloadError, Reloaded};
    use edge_auth::driver::worker::{KvPolicy, PolicyReload};
    use edge_auth::gate::{Gate, GateConfig, IssuerConfig};
    use edge_auth::policy::{Policy, RequestFacts};
    use http::StatusCode;

    const OPEN: &str = r#"{"rules":[{"id":"open","match":{"paths":["/**"]},"require":{"anonymous":true},"effect":"allow"}]}"#;
    const CLOSED: &str = r#"{"rules":[{"id":"closed","match":{"paths":["/**"]},"effect":"deny"}]}"#;
    const FAILS_ITS_TEST: &str = r#"{"rules":[{"id":"closed","match":{"paths":["/**"]},"effect":"deny"}],
        "tests":[{"name":"health must stay open","request":"GET /healthz","expect":"allow"}]}"#;

    fn gate() -> Arc<Gate> {
        let issuer = IssuerConfig::new("https://idp.example.com", ["api"])
            .with_jwks_uri("https://idp.example.com/jwks");
        let policy = Policy::from_json(OPEN).unwrap().compile().unwrap();
        Arc::new(Gate::new(GateConfig::new([issuer]).with_policy(policy)).unwrap())
    }

    fn allows(gate: &Gate) -> bool {
        let get = http::Method::GET;
        gate.policy()
            .evaluate(&RequestFacts::new(&get, "/healthz"), None)
            .is_allowed()
    }

    /// A file of its own under the system temp dir, removed on drop.
    struct TempFile(std::path::PathBuf);
    impl TempFile {
        fn new(name: &str, text: &str) -> Self {
            let path =
                std::env::temp_dir().join(format!("edge-auth-{name}-{}.json", std::process::id()));
            std::fs::write(&path, text).unwrap();
            Self(path)
        }
        fn write(&self, text: &str) {
            std::fs::write(&self.0, text).unwrap();
        }
    }
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[tokio::test]
    async fn file_reload_swaps_then_skips_unchanged() {
        let file = TempFile::new("swap", CLOSED);
        let gate = gate();
        let reloader = PolicyReloader::from_file(Arc::clone(&gate), &file.0);
        assert!(allows(&gate));
        assert_eq!(
            reloader.reload().await.unwrap(),
            Reloaded::Replaced { generation: 1 }
        );
        assert!(!allows(&gate));
        assert_eq!(reloader.reload().await.unwrap(), Reloaded::Unchanged);
        assert_eq!(reloader.stats().replaced, 1);
        assert_eq!(reloader.stats().unchanged, 1);
    }

    #[tokio::test]
    async fn file_reload_keeps_old_policy_when_new_does_not_parse() {
        let file = TempFile::new("broken", "{ not json");
        let gate = gate();
        let reloader = PolicyReloader::from_file(Arc::clone(&gate), &file.0);
        let err = reloader.reload().await.unwrap_err();
        assert!(matches!(err, ReloadError::Policy(_)), "{err}");
        assert!(err.to_string().contains("old one kept"), "{err}");
        assert!(allows(&gate));
        assert_eq!(gate.policy_generation(), 0);
        assert_eq!(reloader.stats().failed, 1);
    }

    #[tokio::test]
    async fn file_reload_keeps_old_policy_when_new_fails_its_tests() {
        let file = TempFile::new("failing", FAILS_ITS_TEST);
        let gate = gate();
        let reloader = PolicyReloader::from_file(Arc::clone(&gate), &file.0);
        let err = reloader.reload().await.unwrap_err();
        assert!(
            err.to_string()
                .contains("policy test `health must stay open` failed"),
            "{err}"
        );
        assert!(allows(&gate));
    }

    #[tokio::test]
    async fn file_reload_of_missing_file_keeps_old_policy() {
        let gate = gate();
        let reloader =
            PolicyReloader::from_file(Arc::clone(&gate), "/nonexistent/edge-auth/policy.json");
        let err = reloader.reload().await.unwrap_err();
        assert!(matches!(err, ReloadError::Read { .. }), "{err}");
        assert!(allows(&gate));
    }

    #[tokio::test]
    async fn file_reload_refuses_oversized_document() {
        let file = TempFile::new("large", CLOSED);
        let gate = gate();
        let reloader = PolicyReloader::from_file(Arc::clone(&gate), &file.0).with_max_bytes(16);
        let err = reloader.reload().await.unwrap_err();
        assert!(matches!(err, ReloadError::TooLarge { max: 16 }), "{err}");
        assert!(allows(&gate));
    }

    #[tokio::test]
    async fn spawned_reloader_picks_up_a_changed_file() {
        let file = TempFile::new("interval", OPEN);
        let gate = gate();
        let reloader = PolicyReloader::from_file(Arc::clone(&gate), &file.0);
        let task = reloader.spawn(Duration::from_millis(10)).unwrap();
        file.write(CLOSED);
        let mut swapped = false;
        for _ in 0..200 {
            if !allows(&gate) {
                swapped = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(task);
        assert!(
            swapped,
            "policy not reloaded within 2 s: {:?}",
            reloader.stats()
        );
    }

    struct Serve(StatusCode, &'static str);
    impl HttpClient for Serve {
        fn get(&self, request: FetchRequest) -> FetchFuture<'_> {
            assert_eq!(request.url, "https://config.example.com/policy.json");
            let response = FetchResponse::new(self.0, http::HeaderMap::new(), self.1.into());
            Box::pin(async move { Ok::<_, DriverError>(response) })
        }
    }

    #[tokio::test]
    async fn url_reload_swaps_policy() {
        let gate = gate();
        let reloader = PolicyReloader::from_url(
            Arc::clone(&gate),
            "https://config.example.com/policy.json",
            Serve(StatusCode::OK, CLOSED),
        );
        reloader.reload().await.unwrap();
        assert!(!allows(&gate));
    }

    #[tokio::test]
    async fn url_reload_error_status_keeps_old_policy() {
        let gate = gate();
        let reloader = PolicyReloader::from_url(
            Arc::clone(&gate),
            "https://config.example.com/policy.json",
            Serve(StatusCode::INTERNAL_SERVER_ERROR, CLOSED),
        );
        let err = reloader.reload().await.unwrap_err();
        assert!(matches!(err, ReloadError::Status { .. }), "{err}");
        assert!(allows(&gate));
    }

    #[test]
    fn worker_kv_policy_applies_new_and_skips_unchanged() {
        let gate = gate();
        let kv = KvPolicy::new("edge-auth:policy");
        assert_eq!(kv.apply(&gate, None).unwrap(), PolicyReload::Absent);
        assert!(allows(&gate));
        assert_eq!(
            kv.apply(&gate, Some(CLOSED)).unwrap(),
            PolicyReload::Replaced { generation: 1 }
        );
        assert!(!allows(&gate));
        assert_eq!(
            kv.apply(&gate, Some(CLOSED)).unwrap(),
            PolicyReload::Unchanged
        );
    }

    #[test]
    fn worker_kv_policy_failing_its_tests_keeps_old_policy() {
        let gate = gate();
        let kv = KvPolicy::new("edge-auth:policy");
        let err = kv.apply(&gate, Some(FAILS_ITS_TEST)).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("old one kept"), "{message}");
        assert!(message.contains("health must stay open"), "{message}");
        assert!(allows(&gate));
    }

    #[test]
    fn worker_kv_policy_reload_is_due_once_per_interval() {
        let kv = KvPolicy::with_interval("k", time::Duration::seconds(30));
        let t0 = time::macros::datetime!(2026-12-07 12:00:00 UTC);
        assert!(kv.due(t0));
        assert!(!kv.due(t0 + time::Duration::seconds(10)));
        assert!(kv.due(t0 + time::Duration::seconds(30)));
    }
}

// ------------------------------------------- sender-constrained routes (DPoP)

mod sender_constrained {
    use super::*;

    const DOC: &str = r#"{"rules":[
      {"id":"payments","match":{"paths":["/payments/**"]},
       "require":{"sender_constrained":true},"effect":"allow"},
      {"id":"reports","match":{"paths":["/reports/**"]},"effect":"allow"}]}"#;

    fn policy() -> CompiledPolicy {
        Policy::from_json(DOC).unwrap().compile().unwrap()
    }

    fn bound() -> Option<Principal> {
        let mut p = Principal::new("alice");
        p.sender_constrained = true;
        Some(p)
    }

    #[test]
    fn sender_constrained_route_allows_bound_principal() {
        let d = get("/payments/1").evaluate(&policy(), bound().as_ref());
        assert!(d.is_allowed(), "{}", d.explain());
        assert_eq!(d.rule_id.as_deref(), Some("payments"));
    }

    #[test]
    fn sender_constrained_route_refuses_bearer_principal() {
        let d = get("/payments/1").evaluate(&policy(), user().as_ref());
        assert!(!d.is_allowed());
        assert!(d.sender_constraint_required(), "{}", d.explain());
        assert!(matches!(&d.reasons[0],
            Reason::RequirementsNotMet { rule_id, failures, .. }
                if rule_id == "payments" && failures == &[Failure::SenderConstraintRequired]));
    }

    #[test]
    fn sender_constrained_route_without_principal_needs_authentication() {
        let d = get("/payments/1").evaluate(&policy(), anon().as_ref());
        assert!(d.authentication_required(), "{}", d.explain());
        assert!(d.sender_constraint_required(), "{}", d.explain());
    }

    #[test]
    fn other_route_allows_bearer_principal() {
        let d = get("/reports/q3").evaluate(&policy(), user().as_ref());
        assert!(d.is_allowed(), "{}", d.explain());
        assert!(!d.sender_constraint_required());
    }

    #[test]
    fn sender_constrained_is_named_by_the_compiled_policy() {
        assert_eq!(policy().sender_constrained_rule(), Some("payments"));
        assert_eq!(gateway().sender_constrained_rule(), None);
    }

    #[test]
    fn sender_constrained_reads_from_toml() {
        let text = r#"
            [[rules]]
            id = "payments"
            effect = "allow"
            match = { paths = ["/payments/**"] }
            require = { sender_constrained = true }
        "#;
        let policy: Policy = toml::from_str(text).unwrap();
        let compiled = policy.compile().unwrap();
        assert_eq!(compiled.sender_constrained_rule(), Some("payments"));
    }

    #[test]
    fn sender_constrained_embedded_tests_run() {
        let mut doc: Value = serde_json::from_str(DOC).unwrap();
        doc["tests"] = json!([
            {"name": "bound client pays", "request": "POST /payments/1",
             "principal": {"subject": "alice", "sender_constrained": true},
             "expect": "allow", "rule": "payments"},
            {"name": "bearer client is refused", "request": "POST /payments/1",
             "principal": {"subject": "alice"}, "expect": "deny"}
        ]);
        Policy::from_json(&doc.to_string())
            .unwrap()
            .compile()
            .expect("embedded tests pass");
        doc["tests"] = json!([
            {"name": "bearer client pays", "request": "POST /payments/1",
             "principal": {"subject": "alice"}, "expect": "allow"}
        ]);
        let err = Policy::from_json(&doc.to_string())
            .unwrap()
            .compile()
            .unwrap_err();
        assert!(err.to_string().contains("bearer client pays"), "{err}");
    }
}

#[test]
fn policy_parse_errors_give_line_and_column() {
    let text = "{\n  \"rules\": [\n    {\"id\": \"a\", \"effect\": \"allow\",}\n  ]\n}";
    let err = Policy::from_json(text).unwrap_err();
    let PolicyError::Parse(ref json) = err else {
        panic!("{err:?}");
    };
    assert_eq!((json.line(), json.column()), (Some(3), Some(35)));
    assert_eq!(
        err.to_string(),
        "policy document is invalid: trailing comma at line 3 column 35"
    );
}

#[test]
fn policy_with_a_repeated_member_is_refused() {
    let text = r#"{"rules":[{"id":"a","effect":"allow","effect":"deny"}]}"#;
    let err = Policy::from_json(text).unwrap_err();
    assert!(
        matches!(err, PolicyError::Parse(ref e) if e.message() == "duplicate member `effect`"),
        "{err}"
    );
}
