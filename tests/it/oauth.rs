//! The sans-IO OAuth client (`edge_auth::oauth`): client credentials token
//! requests for each client authentication method (RFC 6749 §2.3.1, §4.4;
//! RFC 7523 §2.2), token responses (§5.1, §5.2) including the bad ones, and
//! the `TokenCache` plan/apply machine, with a property test over 24 h of a
//! simulated clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use edge_auth::Secret;
use edge_auth::jwk::discovery::{DiscoveryOptions, ProviderMetadata};
use edge_auth::oauth::{
    ClientAuth, ClientCredentials, ErrorCode, OAuthError, ResponseLimits, TokenCache,
    TokenCacheConfig, TokenPlan, TokenReason, TokenResponse,
};
use edge_auth::seal::Sealer;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use proptest::prelude::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use url::form_urlencoded;

const ENDPOINT: &str = "https://login.example.com/tenant/oauth2/v2.0/token";
const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);
const SECRET: &str = "p@ss:w rd+/=SECRET";
const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.TOKEN-VALUE.sig";
const ASSERTION: &str = "eyJhbGciOiJFUzI1NiJ9.ASSERTION-VALUE.sig";

fn basic() -> ClientCredentials {
    ClientCredentials::new(
        ENDPOINT,
        "my client",
        ClientAuth::secret_basic(Secret::new(SECRET.to_owned())),
    )
    .unwrap()
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn values<'a>(pairs: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn ok_body(lifetime: i64) -> Vec<u8> {
    format!(r#"{{"access_token":"{TOKEN}","token_type":"Bearer","expires_in":{lifetime}}}"#)
        .into_bytes()
}

fn parse(status: u16, content_type: &str, body: &[u8]) -> Result<TokenResponse, OAuthError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap(),
    );
    TokenResponse::parse(
        StatusCode::from_u16(status).unwrap(),
        &headers,
        body,
        &ResponseLimits::default(),
    )
}

fn assertion_source()
-> impl Fn(&str, OffsetDateTime) -> Result<Secret<String>, Box<dyn std::error::Error + Send + Sync>>
{
    |audience: &str, _now| {
        assert_eq!(audience, ENDPOINT);
        Ok(Secret::new(ASSERTION.to_owned()))
    }
}

// ---- requests ----

#[test]
fn secret_basic_form_urlencodes_id_and_secret_before_base64() {
    let request = basic().token_request(NOW).unwrap();
    let auth = request.headers()[header::AUTHORIZATION].to_str().unwrap();
    let decoded = STANDARD
        .decode(auth.strip_prefix("Basic ").unwrap())
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        "my+client:p%40ss%3Aw+rd%2B%2F%3DSECRET"
    );
    assert!(request.headers()[header::AUTHORIZATION].is_sensitive());
    let pairs = form(request.body());
    assert_eq!(values(&pairs, "grant_type"), ["client_credentials"]);
    assert!(values(&pairs, "client_secret").is_empty());
    assert!(!String::from_utf8_lossy(request.body()).contains("SECRET"));
}

#[test]
fn request_is_a_form_post_accepting_json() {
    let request = basic().token_request(NOW).unwrap();
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(request.uri(), ENDPOINT);
    assert_eq!(request.headers()[header::ACCEPT], "application/json");
    assert_eq!(
        request.headers()[header::CONTENT_TYPE],
        "application/x-www-form-urlencoded"
    );
}

#[test]
fn secret_post_puts_id_and_secret_in_the_body() {
    let client = ClientCredentials::new(
        ENDPOINT,
        "gw",
        ClientAuth::secret_post(Secret::new(SECRET.to_owned())),
    )
    .unwrap();
    let request = client.token_request(NOW).unwrap();
    assert!(request.headers().get(header::AUTHORIZATION).is_none());
    let pairs = form(request.body());
    assert_eq!(values(&pairs, "client_id"), ["gw"]);
    assert_eq!(values(&pairs, "client_secret"), [SECRET]);
}

#[test]
fn assertion_is_sent_with_jwt_bearer_type_and_token_endpoint_audience() {
    let client =
        ClientCredentials::new(ENDPOINT, "gw", ClientAuth::assertion(assertion_source())).unwrap();
    let pairs = form(client.token_request(NOW).unwrap().body());
    assert_eq!(values(&pairs, "client_id"), ["gw"]);
    assert_eq!(
        values(&pairs, "client_assertion_type"),
        ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]
    );
    assert_eq!(values(&pairs, "client_assertion"), [ASSERTION]);
}

#[test]
fn assertion_audience_can_be_the_issuer() {
    let seen = Arc::new(std::sync::Mutex::new(String::new()));
    let seen2 = Arc::clone(&seen);
    let source = move |audience: &str,
                       _now: OffsetDateTime|
          -> Result<Secret<String>, Box<dyn std::error::Error + Send + Sync>> {
        *seen2.lock().unwrap() = audience.to_owned();
        Ok(Secret::new(ASSERTION.to_owned()))
    };
    let client = ClientCredentials::new(ENDPOINT, "gw", ClientAuth::assertion(source))
        .unwrap()
        .with_assertion_audience("https://login.example.com/tenant/v2.0");
    client.token_request(NOW).unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        "https://login.example.com/tenant/v2.0"
    );
}

#[test]
fn assertion_source_failure_is_a_typed_error_without_the_assertion() {
    let source = |_: &str,
                  _: OffsetDateTime|
     -> Result<Secret<String>, Box<dyn std::error::Error + Send + Sync>> {
        Err("signing key unavailable".into())
    };
    let client = ClientCredentials::new(ENDPOINT, "gw", ClientAuth::assertion(source)).unwrap();
    let err = client.token_request(NOW).unwrap_err();
    assert!(matches!(err, OAuthError::Assertion { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("client assertion for audience `{ENDPOINT}` could not be made")
    );
}

#[test]
fn scope_is_space_joined_and_resource_repeats() {
    let client = basic()
        .with_scope("api://orders/.default")
        .with_resource("https://orders.example.com/")
        .with_resource("https://billing.example.com/");
    let pairs = form(client.token_request(NOW).unwrap().body());
    assert_eq!(values(&pairs, "scope"), ["api://orders/.default"]);
    assert_eq!(
        values(&pairs, "resource"),
        [
            "https://orders.example.com/",
            "https://billing.example.com/"
        ]
    );
    let two = basic().with_scope("read").with_scope("write");
    assert_eq!(
        values(&form(two.token_request(NOW).unwrap().body()), "scope"),
        ["read write"]
    );
}

#[test]
fn scope_with_a_space_is_refused() {
    let err = basic()
        .with_scope("read write")
        .token_request(NOW)
        .unwrap_err();
    assert!(
        matches!(err, OAuthError::Config { what: "scope", .. }),
        "{err}"
    );
}

#[test]
fn plain_http_endpoint_is_refused() {
    let auth = ClientAuth::secret_basic(Secret::new(SECRET.to_owned()));
    let err =
        ClientCredentials::new("http://login.example.com/token", "gw", auth.clone()).unwrap_err();
    assert!(matches!(err, OAuthError::Endpoint { .. }), "{err}");
    let err =
        ClientCredentials::with_http_loopback("http://login.example.com/token", "gw", auth.clone())
            .unwrap_err();
    assert!(matches!(err, OAuthError::Endpoint { .. }), "{err}");
    assert!(
        ClientCredentials::with_http_loopback("http://127.0.0.1:8080/token", "gw", auth).is_ok()
    );
}

#[test]
fn empty_client_id_is_refused() {
    let err = ClientCredentials::new(
        ENDPOINT,
        "",
        ClientAuth::secret_basic(Secret::new(SECRET.to_owned())),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            OAuthError::Config {
                what: "client id",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn token_endpoint_from_discovery() {
    let doc = br#"{"issuer":"https://login.example.com/tenant/v2.0",
        "jwks_uri":"https://login.example.com/tenant/keys",
        "token_endpoint":"https://login.example.com/tenant/oauth2/v2.0/token"}"#;
    let meta = ProviderMetadata::from_json(
        doc,
        "https://login.example.com/tenant/v2.0",
        &DiscoveryOptions::default(),
    )
    .unwrap();
    let client = ClientCredentials::from_discovery(
        &meta,
        "gw",
        ClientAuth::secret_basic(Secret::new(SECRET.to_owned())),
    )
    .unwrap();
    assert_eq!(client.token_endpoint, ENDPOINT);
}

#[test]
fn discovery_without_token_endpoint_is_refused() {
    let doc = br#"{"issuer":"https://login.example.com/t","jwks_uri":"https://login.example.com/t/keys"}"#;
    let meta = ProviderMetadata::from_json(
        doc,
        "https://login.example.com/t",
        &DiscoveryOptions::default(),
    )
    .unwrap();
    let err = ClientCredentials::from_discovery(
        &meta,
        "gw",
        ClientAuth::secret_basic(Secret::new(SECRET.to_owned())),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "oauth client token endpoint is invalid: the discovery document has no `token_endpoint`"
    );
}

// ---- responses ----

#[test]
fn bearer_response_is_read() {
    let r = parse(200, "application/json", &ok_body(3599)).unwrap();
    assert_eq!(r.access_token.expose(), TOKEN);
    assert_eq!(r.lifetime, Duration::seconds(3599));
    assert!(r.lifetime_stated);
}

#[test]
fn token_type_is_case_insensitive() {
    let body = format!(r#"{{"access_token":"{TOKEN}","token_type":"bearer","expires_in":60}}"#);
    assert!(parse(200, "application/json", body.as_bytes()).is_ok());
}

#[test]
fn token_type_other_than_bearer_is_refused() {
    let body = format!(r#"{{"access_token":"{TOKEN}","token_type":"DPoP","expires_in":60}}"#);
    let err = parse(200, "application/json", body.as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "token response has token_type `DPoP`, only `Bearer` is supported"
    );
}

#[test]
fn expires_in_zero_is_refused() {
    let err = parse(200, "application/json", &ok_body(0)).unwrap_err();
    assert!(matches!(err, OAuthError::NotPositive { found: 0 }), "{err}");
}

#[test]
fn expires_in_negative_is_refused() {
    let err = parse(200, "application/json", &ok_body(-30)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "token response has expires_in `-30`, which must be positive"
    );
}

#[test]
fn expires_in_huge_is_capped() {
    let r = parse(200, "application/json", &ok_body(i64::MAX)).unwrap();
    assert_eq!(r.lifetime, Duration::hours(24));
    let body = format!(r#"{{"access_token":"{TOKEN}","token_type":"Bearer","expires_in":1e300}}"#);
    assert_eq!(
        parse(200, "application/json", body.as_bytes())
            .unwrap()
            .lifetime,
        Duration::hours(24)
    );
    let body = format!(
        r#"{{"access_token":"{TOKEN}","token_type":"Bearer","expires_in":99999999999999999999999}}"#
    );
    assert_eq!(
        parse(200, "application/json", body.as_bytes())
            .unwrap()
            .lifetime,
        Duration::hours(24)
    );
}

#[test]
fn expires_in_missing_gives_the_default_lifetime() {
    let body = format!(r#"{{"access_token":"{TOKEN}","token_type":"Bearer"}}"#);
    let r = parse(200, "application/json", body.as_bytes()).unwrap();
    assert_eq!(r.lifetime, Duration::minutes(5));
    assert!(!r.lifetime_stated);
}

#[test]
fn expires_in_as_a_string_of_digits_is_read() {
    let body = format!(r#"{{"access_token":"{TOKEN}","token_type":"Bearer","expires_in":"3599"}}"#);
    assert_eq!(
        parse(200, "application/json", body.as_bytes())
            .unwrap()
            .lifetime,
        Duration::seconds(3599)
    );
}

#[test]
fn expires_in_not_a_number_is_refused() {
    let body = format!(r#"{{"access_token":"{TOKEN}","token_type":"Bearer","expires_in":"soon"}}"#);
    let err = parse(200, "application/json", body.as_bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            OAuthError::Invalid {
                name: "expires_in",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn ok_without_access_token_is_refused() {
    let err = parse(
        200,
        "application/json",
        br#"{"token_type":"Bearer","expires_in":3600}"#,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "token response lacks `access_token`");
}

#[test]
fn ok_with_html_body_is_refused() {
    let err = parse(200, "text/html", b"<html><body>Sign in</body></html>").unwrap_err();
    assert_eq!(
        err.to_string(),
        "token endpoint answered status 200 with a body that is not a json object (content type `text/html`)"
    );
}

#[test]
fn server_error_with_html_is_refused() {
    let err = parse(500, "text/html", b"<html>Internal error</html>").unwrap_err();
    assert_eq!(
        err.to_string(),
        "token endpoint answered status 500 without an oauth error (content type `text/html`)"
    );
}

#[test]
fn invalid_client_error_is_typed_with_its_description() {
    let err = parse(401, "application/json", br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#).unwrap_err();
    let OAuthError::Refused {
        status,
        code,
        description,
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!((*status, code), (401, &ErrorCode::InvalidClient));
    assert_eq!(
        description.as_deref(),
        Some("AADSTS7000215: Invalid client secret provided.")
    );
    assert_eq!(
        err.to_string(),
        "token endpoint refused the request with `invalid_client` (status 401): AADSTS7000215: Invalid client secret provided."
    );
}

#[test]
fn invalid_scope_error_is_typed() {
    let err = parse(400, "application/json", br#"{"error":"invalid_scope"}"#).unwrap_err();
    assert!(
        matches!(
            err,
            OAuthError::Refused {
                code: ErrorCode::InvalidScope,
                description: None,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn error_description_is_sanitised_and_bounded() {
    let long = format!(
        r#"{{"error":"weird\u0007code","error_description":"line\nbreak \"quoted\" {}"}}"#,
        "x".repeat(1000)
    );
    let err = parse(400, "application/json", long.as_bytes()).unwrap_err();
    let OAuthError::Refused {
        code, description, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(code, &ErrorCode::Other("weird?code".into()));
    let d = description.as_deref().unwrap();
    assert!(d.starts_with("line?break ?quoted? xxx"), "{d}");
    assert!(d.len() <= 256 + 3, "{}", d.len());
    assert!(!err.to_string().contains('\n'));
}

#[test]
fn oversized_response_is_refused() {
    let err = parse(200, "application/json", &vec![b' '; 65 * 1024]).unwrap_err();
    assert!(matches!(err, OAuthError::TooLarge { .. }), "{err}");
}

#[test]
fn access_token_with_control_characters_is_refused_without_quoting_it() {
    let err = parse(
        200,
        "application/json",
        br#"{"access_token":"abc\r\nX-Evil: 1","token_type":"Bearer","expires_in":60}"#,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            OAuthError::Invalid {
                name: "access_token",
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.to_string().contains("abc"));
}

#[test]
fn access_token_of_wrong_type_is_refused() {
    let err = parse(
        200,
        "application/json",
        br#"{"access_token":42,"token_type":"Bearer"}"#,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            OAuthError::Invalid {
                name: "access_token",
                ..
            }
        ),
        "{err}"
    );
}

// ---- the cache ----

fn cache() -> TokenCache {
    TokenCache::new(basic(), TokenCacheConfig::default())
}

fn answer(
    cache: &mut TokenCache,
    plan: &TokenPlan,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<(), OAuthError> {
    cache.apply_token_response(plan, StatusCode::OK, &HeaderMap::new(), body, now)
}

#[test]
fn cold_cache_plans_one_request_at_a_time() {
    let mut c = cache();
    assert!(c.get(NOW).is_none());
    let plan = c.poll(NOW).unwrap().unwrap();
    assert_eq!(plan.reason(), TokenReason::Cold);
    assert!(
        c.poll(NOW).unwrap().is_none(),
        "a second plan while one is in flight"
    );
    assert!(c.poll(NOW + Duration::seconds(29)).unwrap().is_none());
    let lost = c.poll(NOW + Duration::seconds(30)).unwrap();
    assert!(
        lost.is_some(),
        "a lost request is replaced after the in-flight timeout"
    );
}

#[test]
fn token_is_served_until_the_skew_margin() {
    let mut c = cache();
    let plan = c.poll(NOW).unwrap().unwrap();
    answer(&mut c, &plan, &ok_body(3600), NOW + Duration::seconds(2)).unwrap();
    assert_eq!(c.get(NOW).unwrap().expose(), TOKEN);
    // Lifetime counts from the request, not the answer.
    assert_eq!(c.expires_at(), Some(NOW + Duration::seconds(3600)));
    assert!(c.get(NOW + Duration::seconds(3539)).is_some());
    assert!(c.get(NOW + Duration::seconds(3540)).is_none());
}

#[test]
fn refresh_is_planned_at_eighty_percent() {
    let mut c = cache();
    let plan = c.poll(NOW).unwrap().unwrap();
    answer(&mut c, &plan, &ok_body(1000), NOW).unwrap();
    assert!(c.poll(NOW + Duration::seconds(799)).unwrap().is_none());
    assert_eq!(c.next_due_at(NOW), Some(NOW + Duration::seconds(800)));
    let plan = c.poll(NOW + Duration::seconds(800)).unwrap().unwrap();
    assert_eq!(plan.reason(), TokenReason::RefreshAhead);
    assert!(
        c.get(NOW + Duration::seconds(800)).is_some(),
        "the old token serves during the refresh"
    );
}

#[test]
fn bad_responses_leave_no_cached_token() {
    let bodies: [(u16, &[u8]); 6] = [
        (200, b"<html>login</html>"),
        (500, b"<html>oops</html>"),
        (
            200,
            br#"{"access_token":"t","token_type":"Bearer","expires_in":0}"#,
        ),
        (
            200,
            br#"{"access_token":"t","token_type":"Bearer","expires_in":-5}"#,
        ),
        (200, br#"{"token_type":"Bearer","expires_in":3600}"#),
        (400, br#"{"error":"invalid_client"}"#),
    ];
    for (status, body) in bodies {
        let mut c = cache();
        let plan = c.poll(NOW).unwrap().unwrap();
        let err = c.apply_token_response(
            &plan,
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body,
            NOW,
        );
        assert!(err.is_err(), "{status} {}", String::from_utf8_lossy(body));
        assert!(c.get(NOW).is_none());
        assert!(c.export_state().is_none());
        assert_eq!(c.failures(), 1);
    }
}

#[test]
fn lifetime_within_the_skew_margin_is_refused() {
    let mut c = cache();
    let plan = c.poll(NOW).unwrap().unwrap();
    let err = answer(&mut c, &plan, &ok_body(60), NOW).unwrap_err();
    assert_eq!(
        err.to_string(),
        "token lifetime of `60` s is not longer than the skew margin of `60` s"
    );
    assert!(c.get(NOW).is_none());
}

#[test]
fn failures_back_off_exponentially_up_to_the_cap() {
    let mut c = cache();
    let mut t = NOW;
    let mut delays = Vec::new();
    for _ in 0..8 {
        let plan = c.poll(t).unwrap().unwrap();
        c.apply_failure(&plan, "connection refused", t);
        let next = c.next_retry_at().unwrap();
        delays.push((next - t).whole_seconds());
        assert!(c.poll(next - Duration::milliseconds(1)).unwrap().is_none());
        t = next;
    }
    assert_eq!(delays, [2, 4, 8, 16, 32, 60, 60, 60]);
    assert_eq!(c.last_error(), Some("connection refused"));
    let plan = c.poll(t).unwrap().unwrap();
    assert_eq!(plan.reason(), TokenReason::Retry);
    answer(&mut c, &plan, &ok_body(3600), t).unwrap();
    assert_eq!((c.failures(), c.next_retry_at()), (0, None));
}

#[test]
fn invalidate_drops_the_token() {
    let mut c = cache();
    let plan = c.poll(NOW).unwrap().unwrap();
    answer(&mut c, &plan, &ok_body(3600), NOW).unwrap();
    c.invalidate();
    assert!(c.get(NOW).is_none());
    assert_eq!(c.poll(NOW).unwrap().unwrap().reason(), TokenReason::Cold);
}

fn sealer(id: u8, byte: u8) -> Sealer {
    Sealer::new(id, &Secret::new(vec![byte; 32])).unwrap()
}

#[test]
fn sealed_state_round_trips_to_another_cache() {
    let mut a = cache();
    let plan = a.poll(NOW).unwrap().unwrap();
    answer(&mut a, &plan, &ok_body(3600), NOW).unwrap();
    let blob = a.export_sealed(&sealer(1, 7)).unwrap().unwrap();
    assert!(!blob.contains("TOKEN"));
    let mut b = cache();
    assert!(
        b.import_sealed(&sealer(1, 7), &blob, NOW + Duration::seconds(10))
            .unwrap()
    );
    assert_eq!(b.get(NOW + Duration::seconds(10)).unwrap().expose(), TOKEN);
    assert!(
        b.poll(NOW + Duration::seconds(10)).unwrap().is_none(),
        "no request with an imported token"
    );
}

#[test]
fn sealed_state_of_another_scope_does_not_open() {
    let mut a = cache();
    let plan = a.poll(NOW).unwrap().unwrap();
    answer(&mut a, &plan, &ok_body(3600), NOW).unwrap();
    let blob = a.export_sealed(&sealer(1, 7)).unwrap().unwrap();
    let mut other = TokenCache::new(basic().with_scope("admin"), TokenCacheConfig::default());
    let err = other.import_sealed(&sealer(1, 7), &blob, NOW).unwrap_err();
    assert!(matches!(err, OAuthError::Seal(_)), "{err}");
    assert!(other.get(NOW).is_none());
}

#[test]
fn sealed_state_tampered_or_plain_is_refused() {
    let mut a = cache();
    let plan = a.poll(NOW).unwrap().unwrap();
    answer(&mut a, &plan, &ok_body(3600), NOW).unwrap();
    let blob = a.export_sealed(&sealer(1, 7)).unwrap().unwrap();
    let mut b = cache();
    let mut tampered = blob.clone().into_bytes();
    let last = tampered.len() - 3;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    assert!(
        b.import_sealed(&sealer(1, 7), std::str::from_utf8(&tampered).unwrap(), NOW)
            .is_err()
    );
    assert!(
        b.import_sealed(&sealer(1, 8), &blob, NOW).is_err(),
        "another secret"
    );
    let plain = String::from_utf8(a.export_state().unwrap().to_json()).unwrap();
    assert!(
        b.import_sealed(&sealer(1, 7), &plain, NOW).is_err(),
        "plain json"
    );
    assert!(b.get(NOW).is_none());
}

#[test]
fn imported_state_never_replaces_a_longer_lived_token() {
    let mut a = cache();
    let plan = a.poll(NOW).unwrap().unwrap();
    answer(&mut a, &plan, &ok_body(3600), NOW).unwrap();
    let old = a.export_state().unwrap();
    let mut b = cache();
    let plan = b.poll(NOW + Duration::seconds(100)).unwrap().unwrap();
    answer(&mut b, &plan, &ok_body(3600), NOW + Duration::seconds(100)).unwrap();
    assert!(!b.import_state(old, NOW + Duration::seconds(100)).unwrap());
    assert_eq!(b.expires_at(), Some(NOW + Duration::seconds(3700)));
}

#[test]
fn state_from_a_process_whose_clock_runs_ahead_is_imported() {
    let mut a = cache();
    let ahead = NOW + Duration::seconds(2);
    let plan = a.poll(ahead).unwrap().unwrap();
    answer(&mut a, &plan, &ok_body(3600), ahead).unwrap();
    let mut b = cache();
    assert!(b.import_state(a.export_state().unwrap(), NOW).unwrap());
    assert!(b.get(NOW).is_some());
    assert!(b.poll(NOW).unwrap().is_none());
}

#[test]
fn expired_state_is_not_imported() {
    let mut a = cache();
    let plan = a.poll(NOW).unwrap().unwrap();
    answer(&mut a, &plan, &ok_body(3600), NOW).unwrap();
    let state = a.export_state().unwrap();
    let mut b = cache();
    assert!(
        !b.import_state(state, NOW + Duration::seconds(3550))
            .unwrap()
    );
}

#[test]
fn debug_never_shows_secret_assertion_or_token() {
    let mut c = cache();
    let plan = c.poll(NOW).unwrap().unwrap();
    let mut out = format!(
        "{plan:?} {:?} {:?}",
        plan.to_request().headers(),
        c.client()
    );
    answer(&mut c, &plan, &ok_body(3600), NOW).unwrap();
    out.push_str(&format!("{c:?} {:?}", c.export_state()));
    out.push_str(&format!(
        "{:?}",
        parse(200, "application/json", &ok_body(60)).unwrap()
    ));
    let post = ClientCredentials::new(
        ENDPOINT,
        "gw",
        ClientAuth::secret_post(Secret::new(SECRET.to_owned())),
    )
    .unwrap();
    let mut pc = TokenCache::new(post, TokenCacheConfig::default());
    out.push_str(&format!("{:?} {pc:?}", pc.poll(NOW).unwrap().unwrap()));
    let jwt =
        ClientCredentials::new(ENDPOINT, "gw", ClientAuth::assertion(assertion_source())).unwrap();
    let mut jc = TokenCache::new(jwt, TokenCacheConfig::default());
    out.push_str(&format!("{:?} {jc:?}", jc.poll(NOW).unwrap().unwrap()));
    for needle in [
        "SECRET",
        "TOKEN-VALUE",
        "ASSERTION-VALUE",
        &STANDARD.encode("my+client")[..8],
    ] {
        assert!(!out.contains(needle), "`{needle}` in {out}");
    }
}

#[test]
fn a_request_every_ten_seconds_for_a_day_makes_thirty_token_requests() {
    let mut c = cache();
    let mut t = NOW;
    let (mut calls, mut requests) = (0, 0);
    while t < NOW + Duration::hours(24) {
        calls += 1;
        if let Some(plan) = c.poll(t).unwrap() {
            requests += 1;
            answer(&mut c, &plan, &ok_body(3600), t).unwrap();
        }
        assert!(c.get(t).is_some());
        t += Duration::seconds(10);
    }
    // One per refresh period of 80 % of an hour: t = 0, 2880 s, ..., 83 520 s.
    assert_eq!((calls, requests, c.requests()), (8640, 30, 30));
}

// ---- property: 24 h on a simulated clock ----

const LIFETIME: i64 = 3600;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random request times over 24 h against a simulated endpoint that
    /// issues one-hour tokens and fails for one hour: one token request per
    /// refresh period (not per request), never a token within the skew
    /// margin, and a token again within the retry cap after recovery.
    #[test]
    fn day_of_requests_on_a_simulated_clock(
        gaps in proptest::collection::vec(prop_oneof![0i64..5, 0i64..120, 0i64..900], 1500),
        outage_start in 0i64..(20 * 3600),
    ) {
        let config = TokenCacheConfig::default();
        let (margin, cap) = (config.skew_margin, config.retry_cap);
        let mut cache = TokenCache::new(basic(), config);
        let outage = (NOW + Duration::seconds(outage_start), NOW + Duration::seconds(outage_start + 3600));
        let issued = AtomicU64::new(0);
        // token value -> expiry, as the endpoint issued it
        let mut expiries = std::collections::HashMap::new();
        let (mut successes, mut failures, mut calls) = (0u64, 0u64, 0u64);
        let mut t = NOW;
        for gap in gaps {
            t += Duration::seconds(gap);
            if t > NOW + Duration::hours(24) { break; }
            calls += 1;
            if let Some(plan) = cache.poll(t).unwrap() {
                if t >= outage.0 && t < outage.1 {
                    failures += 1;
                    let _ = cache.apply_token_response(&plan, StatusCode::INTERNAL_SERVER_ERROR, &HeaderMap::new(), b"<html>down</html>", t);
                } else {
                    successes += 1;
                    let n = issued.fetch_add(1, Ordering::SeqCst);
                    let token = format!("tok-{n}");
                    expiries.insert(token.clone(), t + Duration::seconds(LIFETIME));
                    let body = format!(r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":{LIFETIME}}}"#);
                    answer(&mut cache, &plan, body.as_bytes(), t).unwrap();
                }
            }
            match cache.get(t) {
                Some(token) => {
                    let exp = expiries[token.expose()];
                    prop_assert!(t < exp - margin, "token within the margin at {t}, expires {exp}");
                }
                None => {
                    let in_outage = t >= outage.0 && t < outage.1 + cap;
                    prop_assert!(in_outage, "no token at {t} outside the outage {outage:?}");
                }
            }
        }
        // One refresh period is 80 % of an hour (2880 s): at most 31 over a
        // day, plus one for the restart after the outage.
        prop_assert!(successes <= 86_400 / 2880 + 2, "{successes} token requests in {calls} calls");
        // During the outage the backoff (2 s doubling to 60 s) bounds retries.
        prop_assert!(failures <= 3600 / 60 + 8, "{failures} failed requests");
    }
}

// ---- the Worker driver's token sharing (runtime-independent half) ----

#[cfg(feature = "worker")]
mod worker_tokens {
    use super::*;
    use edge_auth::driver::worker::{WorkerTokens, oauth_kv_key};

    fn isolate(sealer: Option<Sealer>) -> WorkerTokens {
        WorkerTokens::new(cache(), sealer, Some("EDGE_AUTH_KV".into()))
    }

    fn fetch(tokens: &WorkerTokens) -> Option<String> {
        let plan = tokens.poll(NOW).unwrap().unwrap();
        tokens
            .apply(
                &plan,
                StatusCode::OK,
                &HeaderMap::new(),
                &ok_body(3600),
                NOW,
            )
            .unwrap()
    }

    #[test]
    fn sealed_token_is_shared_with_a_second_isolate() {
        let a = isolate(Some(sealer(1, 7)));
        let stored = fetch(&a).unwrap();
        assert!(!stored.contains("TOKEN"), "the token is readable in KV");
        let b = isolate(Some(sealer(1, 7)));
        assert!(b.restore(&stored, NOW + Duration::seconds(5)).unwrap());
        assert_eq!(b.get(NOW + Duration::seconds(5)).unwrap().expose(), TOKEN);
        assert!(b.poll(NOW + Duration::seconds(5)).unwrap().is_none());
    }

    #[test]
    fn plain_state_is_refused_when_sealing() {
        let plain = isolate(None);
        let stored = fetch(&plain).unwrap();
        let b = isolate(Some(sealer(1, 7)));
        let err = b.restore(&stored, NOW).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("no access token for the upstream"),
            "{err}"
        );
        assert!(b.get(NOW).is_none());
    }

    #[test]
    fn state_sealed_under_another_secret_is_refused() {
        let forger = isolate(Some(sealer(1, 9)));
        let forged = fetch(&forger).unwrap();
        let b = isolate(Some(sealer(1, 7)));
        assert!(b.restore(&forged, NOW).is_err());
        assert!(b.get(NOW).is_none());
        assert_eq!(b.poll(NOW).unwrap().unwrap().reason(), TokenReason::Cold);
    }

    #[test]
    fn kv_key_is_a_digest_of_the_client() {
        let key = oauth_kv_key(&basic().cache_key());
        assert!(key.starts_with("oauth-token:"));
        assert_eq!(key.len(), "oauth-token:".len() + 43);
        assert_ne!(key, oauth_kv_key(&basic().with_scope("x").cache_key()));
        assert_eq!(isolate(None).kv_key(), key);
    }

    #[test]
    fn debug_shows_no_token() {
        let a = isolate(Some(sealer(1, 7)));
        fetch(&a);
        assert!(!format!("{a:?}").contains("TOKEN"));
    }
}
