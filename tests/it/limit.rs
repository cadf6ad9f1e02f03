//! Rate limits: GCRA's guarantee under a simulated clock (property tests),
//! the keys each kind builds, IPv6 grouping, the in-memory store's bound,
//! hostile key values, and limits in the policy document.

use std::net::IpAddr;
use std::sync::Arc;

use edge_auth::Principal;
use edge_auth::limit::{
    KeyKind, Limit, LimitReport, LimitStore, MISSING, MemoryStore, MemoryStoreConfig, Rate,
    RuleLimit, Tat, apply_headers, decide,
};
use edge_auth::policy::{Policy, PolicyError};
use http::HeaderMap;
use proptest::prelude::*;
use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

fn limit(rate: &str, burst: u32) -> Limit {
    Limit::new(rate.parse().unwrap(), burst).unwrap()
}

/// Runs `arrivals` (nanosecond offsets from NOW, sorted) through `decide`
/// with the TAT held here, as a store would; returns the admitted offsets.
fn admitted(limit: &Limit, arrivals: &[i64]) -> Vec<i64> {
    let mut tat: Option<Tat> = None;
    let mut out = Vec::new();
    for &at in arrivals {
        let (d, new) = decide(limit, tat, NOW + Duration::nanoseconds(at));
        if d.allowed {
            out.push(at);
            tat = new;
        } else {
            assert_eq!(new, tat, "a refusal must not move the TAT");
        }
    }
    out
}

fn emission_nanos(limit: &Limit) -> i64 {
    i64::try_from(limit.emission_interval().whole_nanoseconds()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// In any window of length t (ends included) at most
    /// burst + floor(t / T) requests are admitted, whatever the arrivals.
    #[test]
    fn gcra_admits_at_most_burst_plus_t_over_emission_in_any_window(
        count in 1u32..50,
        period_ms in 1i64..5_000,
        burst in 1u32..20,
        mut gaps in proptest::collection::vec(0i64..400_000_000, 1..200),
    ) {
        let l = Limit::new(Rate::new(count, Duration::milliseconds(period_ms)).unwrap(), burst).unwrap();
        let t_e = emission_nanos(&l);
        let mut at = 0i64;
        for g in &mut gaps { at += *g; *g = at; }
        let ok = admitted(&l, &gaps);
        // Every window that matters starts at an admission.
        for (i, &start) in ok.iter().enumerate() {
            for (j, &end) in ok.iter().enumerate().skip(i) {
                let inside = (j - i + 1) as i64;
                let bound = i64::from(burst) + (end - start) / t_e;
                prop_assert!(inside <= bound,
                    "{inside} admitted in [{start}, {end}], bound {bound} (T = {t_e} ns, b = {burst})");
            }
        }
    }

    /// A greedy client on a fresh key gets exactly burst + floor(t / T)
    /// over [0, t], polling every `step`.
    #[test]
    fn gcra_greedy_client_gets_exactly_burst_plus_t_over_emission(
        count in 1u32..20,
        period_ms in 10i64..2_000,
        burst in 1u32..10,
        periods in 1i64..5,
    ) {
        let l = Limit::new(Rate::new(count, Duration::milliseconds(period_ms)).unwrap(), burst).unwrap();
        let t_e = emission_nanos(&l);
        let t = periods * period_ms * 1_000_000;
        // Arrive at every multiple of T (where the next admission becomes
        // possible), several times each.
        let mut arrivals = Vec::new();
        let mut at = 0;
        while at <= t {
            for _ in 0..(burst + 1) { arrivals.push(at); }
            at += t_e;
        }
        let ok = admitted(&l, &arrivals);
        prop_assert_eq!(ok.len() as i64, i64::from(burst) + t / t_e);
    }

    /// A client spaced T or more apart is never refused.
    #[test]
    fn gcra_never_refuses_a_client_spaced_at_the_emission_interval(
        count in 1u32..100,
        period_ms in 1i64..10_000,
        burst in 1u32..5,
        extra in proptest::collection::vec(0i64..1_000, 1..100),
    ) {
        let l = Limit::new(Rate::new(count, Duration::milliseconds(period_ms)).unwrap(), burst).unwrap();
        let t_e = emission_nanos(&l);
        let mut at = 0;
        let mut arrivals = Vec::new();
        for e in extra { arrivals.push(at); at += t_e + e; }
        prop_assert_eq!(admitted(&l, &arrivals).len(), arrivals.len());
    }
}

#[test]
fn burst_then_refusal_with_retry_after() {
    let l = limit("10/10s", 3);
    let mut tat = None;
    for i in 0..3 {
        let (d, new) = decide(&l, tat, NOW);
        assert!(d.allowed);
        assert_eq!(d.remaining, 2 - i);
        tat = new;
    }
    let (d, same) = decide(&l, tat, NOW);
    assert!(!d.allowed);
    assert_eq!(same, tat);
    assert_eq!(d.retry_after, Duration::seconds(1));
    assert_eq!(d.reset, Duration::seconds(3));
    let (d, _) = decide(&l, tat, NOW + Duration::seconds(1));
    assert!(d.allowed);
}

#[test]
fn a_corrupt_far_future_tat_refuses_for_at_most_one_burst() {
    let l = limit("1/s", 5);
    let far = Tat::from_unix_nanos(i128::MAX);
    let (d, _) = decide(&l, Some(far), NOW);
    assert!(!d.allowed);
    assert_eq!(d.retry_after, Duration::seconds(1));
    assert!(d.reset <= Duration::seconds(5));
}

#[test]
fn bad_rates_and_bursts_are_refused() {
    for bad in ["0/s", "1/0s", "1/400d", "abc", "1/1w", "99999999999/s"] {
        assert!(bad.parse::<Rate>().is_err(), "{bad}");
    }
    assert!(Limit::new("1/s".parse().unwrap(), 0).is_err());
    assert!(Limit::new("1/s".parse().unwrap(), 2_000_000).is_err());
}

fn alice() -> Principal {
    let mut claims = serde_json::Map::new();
    claims.insert("azp".into(), json!("web-app"));
    claims.insert("tenant".into(), json!({"id": "t-42", "n": 7}));
    Principal::new("alice").with_claims(claims)
}

fn key(kind: &str, principal: Option<&Principal>, ip: Option<&str>) -> String {
    let rl = RuleLimit::new("lim", KeyKind::parse(kind).unwrap(), limit("1/s", 1)).unwrap();
    rl.key(
        "orders",
        principal,
        ip.map(|i| i.parse::<IpAddr>().unwrap()),
    )
}

#[test]
fn key_subject() {
    assert_eq!(key("subject", Some(&alice()), None), "lim/sub:alice");
}

#[test]
fn key_subject_without_principal_shares_the_missing_bucket() {
    assert_eq!(key("subject", None, None), format!("lim/sub:{MISSING}"));
}

#[test]
fn key_client_id_from_azp() {
    assert_eq!(key("client_id", Some(&alice()), None), "lim/cid:web-app");
}

#[test]
fn key_client_id_from_client_id_claim() {
    let mut claims = serde_json::Map::new();
    claims.insert("client_id".into(), json!("svc-1"));
    let p = Principal::new("x").with_claims(claims);
    assert_eq!(key("client_id", Some(&p), None), "lim/cid:svc-1");
}

#[test]
fn key_ip_v4() {
    assert_eq!(key("ip", None, Some("192.0.2.7")), "lim/ip:192.0.2.7/32");
}

#[test]
fn key_ip_v4_mapped_is_v4() {
    assert_eq!(
        key("ip", None, Some("::ffff:192.0.2.7")),
        "lim/ip:192.0.2.7/32"
    );
}

#[test]
fn key_ip_missing() {
    assert_eq!(key("ip", None, None), format!("lim/ip:{MISSING}"));
}

#[test]
fn key_route() {
    assert_eq!(key("route", Some(&alice()), None), "lim/route:orders");
}

#[test]
fn key_claim_string() {
    assert_eq!(
        key("claim:/tenant/id", Some(&alice()), None),
        "lim/claim:t-42"
    );
}

#[test]
fn key_claim_number_counts_by_its_json() {
    assert_eq!(key("claim:/tenant/n", Some(&alice()), None), "lim/claim:7");
}

#[test]
fn key_claim_absent() {
    assert_eq!(
        key("claim:/nope", Some(&alice()), None),
        format!("lim/claim:{MISSING}")
    );
}

#[test]
fn unknown_key_kinds_are_refused() {
    for bad in ["", "user", "claim:", "claim:tenant", "claim:/a~2"] {
        assert!(KeyKind::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn ipv6_addresses_in_one_64_share_a_key() {
    let a = key("ip", None, Some("2001:db8:aa:bb:1:2:3:4"));
    let b = key("ip", None, Some("2001:db8:aa:bb:ffff:ffff:ffff:ffff"));
    let c = key("ip", None, Some("2001:db8:aa:bc::1"));
    assert_eq!(a, "lim/ip:2001:db8:aa:bb::/64");
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn ipv6_prefix_is_configurable() {
    let kind = KeyKind::Ip {
        ipv4_prefix: 24,
        ipv6_prefix: 48,
    };
    let rl = RuleLimit::new("lim", kind, limit("1/s", 1)).unwrap();
    let k = |ip: &str| rl.key("r", None, Some(ip.parse().unwrap()));
    assert_eq!(k("2001:db8:aa:bb::1"), "lim/ip:2001:db8:aa::/48");
    assert_eq!(k("2001:db8:aa:bc::1"), k("2001:db8:aa:ff::9"));
    assert_eq!(k("192.0.2.77"), "lim/ip:192.0.2.0/24");
}

#[test]
fn hostile_claim_values_are_escaped() {
    let mut claims = serde_json::Map::new();
    claims.insert("t".into(), json!("a}{b:c/d\r\nSET x 1 é"));
    let p = Principal::new("x").with_claims(claims);
    let k = key("claim:/t", Some(&p), None);
    assert_eq!(k, "lim/claim:a%7D%7Bb%3Ac%2Fd%0D%0ASET%20x%201%20%C3%A9");
    assert!(k.bytes().all(|b| b.is_ascii_graphic()));
}

#[test]
fn hostile_long_claim_values_are_hashed_and_bounded() {
    let mut claims = serde_json::Map::new();
    claims.insert("t".into(), json!("x".repeat(100_000)));
    claims.insert("o".into(), json!({"deep": vec!["{}"; 5000]}));
    let p = Principal::new("s".repeat(10_000)).with_claims(claims);
    for kind in ["claim:/t", "claim:/o", "subject"] {
        let k = key(kind, Some(&p), None);
        assert!(k.len() <= 100, "{kind}: {} bytes", k.len());
        assert!(k.contains(":#"), "{kind}: {k}");
    }
    // Different values, different hashes.
    assert_ne!(
        key("claim:/t", Some(&p), None),
        key("claim:/o", Some(&p), None)
    );
}

#[test]
fn memory_store_stays_bounded_under_thousands_of_distinct_keys() {
    let store = MemoryStore::new(MemoryStoreConfig::default().with_max_keys(1_000));
    let l = limit("1/h", 1);
    // All keys stay active for an hour: eviction must drop live ones.
    for i in 0..20_000 {
        let d = store.check(&format!("lim/sub:user-{i}"), &l, NOW).unwrap();
        assert!(d.allowed);
        assert!(
            store.len() <= store.max_keys(),
            "{} keys at {i}",
            store.len()
        );
    }
    assert!(store.max_keys() <= 1_000 + 16);
}

#[test]
fn memory_store_drops_idle_keys_first() {
    let store = MemoryStore::new(
        MemoryStoreConfig::default()
            .with_max_keys(64)
            .with_shards(1),
    );
    let l = limit("1/s", 1);
    for i in 0..64 {
        store.check(&format!("old-{i}"), &l, NOW).unwrap();
    }
    let hot = "hot";
    store.check(hot, &l, NOW + Duration::seconds(10)).unwrap();
    // The old keys are idle by now: filling up again evicts them, not `hot`.
    for i in 0..63 {
        store
            .check(&format!("new-{i}"), &l, NOW + Duration::seconds(10))
            .unwrap();
    }
    let again = store.check(hot, &l, NOW + Duration::seconds(10)).unwrap();
    assert!(!again.allowed, "the hot key's state was lost");
    store.sweep(NOW + Duration::seconds(20));
    assert!(store.is_empty());
}

#[test]
fn memory_store_refuses_overlong_keys() {
    let store = MemoryStore::default();
    assert!(
        store
            .check(&"k".repeat(10_000), &limit("1/s", 1), NOW)
            .is_err()
    );
}

#[test]
fn memory_store_is_shared_across_threads_without_over_admitting() {
    let store = Arc::new(MemoryStore::default());
    let l = limit("100/h", 100);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                (0..100)
                    .filter(|_| store.check("shared", &l, NOW).unwrap().allowed)
                    .count()
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 100);
}

#[test]
fn headers_follow_the_draft_syntax() {
    let l = limit("100/60s", 2);
    let (d, tat) = decide(&l, None, NOW);
    let (d2, _) = decide(&l, tat, NOW);
    let (d3, _) = decide(&l, tat.and_then(|_| decide(&l, tat, NOW).1), NOW);
    let a = LimitReport::new("per-user", 100, Duration::seconds(60), &d);
    assert_eq!(a.policy_item(), r#""per-user";q=100;w=60"#);
    assert_eq!(a.limit_item(), r#""per-user";r=1;t=1"#);
    assert_eq!(
        LimitReport::new("per-user", 100, Duration::seconds(60), &d2).limit_item(),
        r#""per-user";r=0;t=1"#
    );
    assert!(!d3.allowed);
    let mut headers = HeaderMap::new();
    let b = LimitReport::new("per-ip", 5, Duration::milliseconds(1500), &d);
    apply_headers(&[a, b], &mut headers);
    assert_eq!(
        headers["ratelimit-policy"],
        r#""per-user";q=100;w=60, "per-ip";q=5;w=2"#
    );
    assert_eq!(
        headers["ratelimit"],
        r#""per-user";r=1;t=1, "per-ip";r=1;t=1"#
    );
}

fn policy(limits: serde_json::Value) -> Result<edge_auth::policy::CompiledPolicy, PolicyError> {
    Policy::from_json(
        &json!({"rules": [
            {"id": "orders", "match": {"paths": ["/orders/**"]}, "effect": "allow", "limits": limits},
        ]})
        .to_string(),
    )?
    .compile()
}

#[test]
fn policy_limits_compile() {
    let p = policy(json!([
        {"id": "per-user", "key": "subject", "rate": "100/60s", "burst": 20},
        {"id": "per-net", "key": "ip", "rate": "1000/h", "ipv6_prefix": 56},
        {"id": "per-tenant", "key": "claim:/tenant/id", "rate": "10/s"},
    ]))
    .unwrap();
    assert!(p.has_limits());
    let limits = p.limits("orders");
    assert_eq!(limits.len(), 3);
    assert_eq!(limits[0].limit().burst(), 20);
    assert_eq!(
        limits[1].limit().burst(),
        1000,
        "burst defaults to the count"
    );
    assert_eq!(
        limits[1].kind(),
        &KeyKind::Ip {
            ipv4_prefix: 32,
            ipv6_prefix: 56
        }
    );
    assert!(p.limits("nope").is_empty());
}

#[test]
fn policy_limit_errors() {
    let cases = [
        json!([{"id": "a", "key": "subject", "rate": "fast"}]),
        json!([{"id": "a", "key": "who", "rate": "1/s"}]),
        json!([{"id": "a b", "key": "subject", "rate": "1/s"}]),
        json!([{"id": "a", "key": "subject", "rate": "1/s", "burst": 0}]),
        json!([{"id": "a", "key": "subject", "rate": "1/s", "ipv6_prefix": 64}]),
        json!([{"id": "a", "key": "ip", "rate": "1/s", "ipv6_prefix": 129}]),
        json!([{"id": "a", "key": "subject", "rate": "1/s"}, {"id": "a", "key": "ip", "rate": "1/s"}]),
        json!([{"id": "a", "key": "subject", "rate": "1/s", "extra": 1}]),
    ];
    for case in cases {
        assert!(policy(case.clone()).is_err(), "{case}");
    }
}

#[test]
fn policy_limits_on_deny_rules_are_refused() {
    let doc = json!({"rules": [{"id": "d", "effect": "deny",
        "limits": [{"id": "a", "key": "ip", "rate": "1/s"}]}]});
    let err = Policy::from_json(&doc.to_string())
        .unwrap()
        .compile()
        .unwrap_err();
    assert!(err.to_string().contains("deny rule"), "{err}");
}

#[test]
fn policy_shared_limit_ids_must_agree() {
    let doc = json!({"rules": [
        {"id": "a", "match": {"paths": ["/a"]}, "effect": "allow",
         "limits": [{"id": "global", "key": "subject", "rate": "10/s"}]},
        {"id": "b", "match": {"paths": ["/b"]}, "effect": "allow",
         "limits": [{"id": "global", "key": "subject", "rate": "20/s"}]},
    ]});
    assert!(
        Policy::from_json(&doc.to_string())
            .unwrap()
            .compile()
            .is_err()
    );
}

#[test]
fn example_policy_with_limits_compiles() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/policies/rate-limits.json"
    ))
    .unwrap();
    let p = Policy::from_json(&text).unwrap().compile().unwrap();
    assert!(p.has_limits());
}
