//! Claims to principal: real-shaped token payloads for each provider preset
//! (shapes from the providers' token reference documentation; ids are made
//! up), then the generic mapper's paths, value maps and limits.

use std::collections::BTreeSet;

use edge_auth::oidc::{ClaimPath, ClaimSource, OidcError, RoleMapper, Split, Unmapped};
use proptest::prelude::*;
use serde_json::{Value, json};

const ENTRA_CLIENT: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const ENTRA_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const ENTRA_OID: &str = "690222be-ff1a-4d56-abd1-7e4f7d38e474";
const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
const GROUP_STAFF: &str = "2d4b8cd5-3a56-4d68-9d8e-0f3c8a2d4e11";
const GROUP_ADMINS: &str = "9f1e1c7a-52e7-4e0b-8a8c-5c36a1fa0b42";

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// `case!(name, mapper, claims-json, |p| { assertions })`: one test per payload.
macro_rules! case {
    ($name:ident, $mapper:expr, $claims:expr, |$p:ident| $check:block) => {
        #[test]
        fn $name() {
            let claims: Value = $claims;
            let mapper: RoleMapper = $mapper;
            let $p = mapper.map(claims.as_object().expect("claims are an object"));
            $check
        }
    };
}

fn entra_v1(extra: Value) -> Value {
    let mut claims = json!({
        "aud": format!("api://{ENTRA_CLIENT}"),
        "iss": format!("https://sts.windows.net/{ENTRA_TENANT}/"),
        "iat": 1_763_890_000, "nbf": 1_763_890_000, "exp": 1_763_893_900,
        "acr": "1",
        "aio": "AVQAq/8TAAAA7bXsmW3UfmDl1GmN8pXbVtSHGtGmQ==",
        "amr": ["pwd", "mfa"],
        "appid": "a913c59c-51e7-47a8-a4e0-fadbd8d1d2e2",
        "appidacr": "0",
        "family_name": "Doe", "given_name": "Jane", "name": "Jane Doe",
        "ipaddr": "203.0.113.7",
        "oid": ENTRA_OID,
        "rh": "0.AXEAv4j5cvGGr0GRqy180BHbRysXdG5WvkNIn_TmajnDEuNxAAA.",
        "scp": "Orders.Read Orders.Write",
        "sub": "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA",
        "tid": ENTRA_TENANT,
        "unique_name": "jane@contoso.com",
        "upn": "jane@contoso.com",
        "uti": "fqiBqXLPj0eQa82S-IYFAA",
        "ver": "1.0",
        "roles": ["Orders.Admin"],
        "wids": [GLOBAL_ADMIN, "b79fbf4d-3ef9-4689-8143-76b194e85509"]
    });
    merge(&mut claims, extra);
    claims
}

fn entra_v2(extra: Value) -> Value {
    let mut claims = json!({
        "aud": ENTRA_CLIENT,
        "iss": format!("https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"),
        "iat": 1_763_890_000, "nbf": 1_763_890_000, "exp": 1_763_893_900,
        "aio": "AXQAi/8TAAAAbZ0b4Wl3MtRcVPtbMPl1cy7n0HZDWWbB3jM=",
        "azp": "a913c59c-51e7-47a8-a4e0-fadbd8d1d2e2",
        "azpacr": "0",
        "name": "Jane Doe",
        "oid": ENTRA_OID,
        "preferred_username": "jane@contoso.com",
        "rh": "0.AXEAv4j5cvGGr0GRqy180BHbRysXdG5WvkNIn_TmajnDEuNxAAA.",
        "scp": "Orders.Read",
        "sub": "MF4f-ggWMEji12KynJUNQZphaUTvLcQug5jdF2nl01Q",
        "tid": ENTRA_TENANT,
        "uti": "b3lGkLkHM02G6J6Nr0AFAA",
        "ver": "2.0",
        "roles": ["Orders.Reader"]
    });
    merge(&mut claims, extra);
    claims
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(into), Value::Object(extra)) = (into.as_object_mut(), extra) {
        into.extend(extra);
    }
}

fn overage(endpoint: &str) -> Value {
    json!({
        "_claim_names": { "groups": "src1" },
        "_claim_sources": { "src1": { "endpoint": endpoint } }
    })
}

// ---- Entra ID ----

case!(
    entra_v1_with_groups,
    RoleMapper::entra_id(ENTRA_CLIENT),
    entra_v1(json!({ "groups": [GROUP_STAFF, GROUP_ADMINS] })),
    |p| {
        assert_eq!(p.subject.as_deref(), Some(ENTRA_OID));
        assert_eq!(p.tenant.as_deref(), Some(ENTRA_TENANT));
        assert_eq!(
            p.issuer.as_deref(),
            Some(format!("https://sts.windows.net/{ENTRA_TENANT}/").as_str())
        );
        assert_eq!(
            p.roles,
            set(&[
                "Orders.Admin",
                &format!("wids:{GLOBAL_ADMIN}"),
                "wids:b79fbf4d-3ef9-4689-8143-76b194e85509"
            ])
        );
        assert_eq!(p.scopes, set(&["Orders.Read", "Orders.Write"]));
        assert_eq!(p.groups, set(&[GROUP_STAFF, GROUP_ADMINS]));
        assert!(p.groups_overage().is_none());
        assert_eq!(p.email, None);
        assert!(!p.truncated);
    }
);

case!(
    entra_v1_groups_overage,
    RoleMapper::entra_id(ENTRA_CLIENT),
    entra_v1(overage(&format!(
        "https://graph.windows.net/{ENTRA_TENANT}/users/{ENTRA_OID}/getMemberObjects"
    ))),
    |p| {
        assert!(p.groups.is_empty());
        let overage = p
            .groups_overage()
            .expect("overage must be reported, not read as no groups");
        assert_eq!(
            overage.source.as_deref(),
            Some(
                format!(
                    "https://graph.windows.net/{ENTRA_TENANT}/users/{ENTRA_OID}/getMemberObjects"
                )
                .as_str()
            )
        );
        assert!(p.has_role("Orders.Admin"));
    }
);

case!(
    entra_v2_with_groups,
    RoleMapper::entra_id(ENTRA_CLIENT),
    entra_v2(json!({ "groups": [GROUP_STAFF] })),
    |p| {
        assert_eq!(p.subject.as_deref(), Some(ENTRA_OID));
        assert_eq!(p.tenant.as_deref(), Some(ENTRA_TENANT));
        assert_eq!(p.roles, set(&["Orders.Reader"]));
        assert_eq!(p.scopes, set(&["Orders.Read"]));
        assert_eq!(p.groups, set(&[GROUP_STAFF]));
        assert!(p.groups_overage().is_none());
    }
);

case!(
    entra_v2_groups_overage,
    RoleMapper::entra_id(ENTRA_CLIENT),
    entra_v2(overage(&format!(
        "https://graph.microsoft.com/v1.0/users/{ENTRA_OID}/getMemberObjects"
    ))),
    |p| {
        assert!(p.groups.is_empty());
        assert_eq!(
            p.groups_overage().and_then(|o| o.source.as_deref()),
            Some(
                format!("https://graph.microsoft.com/v1.0/users/{ENTRA_OID}/getMemberObjects")
                    .as_str()
            )
        );
    }
);

case!(
    entra_implicit_flow_hasgroups,
    RoleMapper::entra_id(ENTRA_CLIENT),
    entra_v2(json!({ "hasgroups": true })),
    |p| {
        assert!(p.groups.is_empty());
        assert_eq!(p.groups_overage().map(|o| o.source.clone()), Some(None));
    }
);

case!(
    entra_app_only_token,
    RoleMapper::entra_id(ENTRA_CLIENT),
    json!({
        "aud": ENTRA_CLIENT,
        "iss": format!("https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0"),
        "iat": 1_763_890_000, "nbf": 1_763_890_000, "exp": 1_763_893_900,
        "azp": "a913c59c-51e7-47a8-a4e0-fadbd8d1d2e2", "azpacr": "1",
        "idtyp": "app",
        "oid": "4f5b7c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b",
        "roles": ["Orders.ReadWrite.All"],
        "sub": "4f5b7c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b",
        "tid": ENTRA_TENANT, "ver": "2.0"
    }),
    |p| {
        assert_eq!(p.roles, set(&["Orders.ReadWrite.All"]));
        assert!(p.scopes.is_empty());
    }
);

case!(
    entra_roles_for_another_audience_are_ignored,
    RoleMapper::entra_id(ENTRA_CLIENT),
    entra_v2(json!({ "aud": "00000003-0000-0000-c000-000000000000", "groups": [GROUP_STAFF] })),
    |p| {
        assert!(
            p.roles.is_empty(),
            "app roles of another API must not count: {:?}",
            p.roles
        );
        assert!(p.scopes.is_empty());
        assert_eq!(p.groups, set(&[GROUP_STAFF]));
    }
);

case!(
    entra_custom_app_id_uri,
    {
        let mut m = RoleMapper::entra_id(ENTRA_CLIENT);
        m.audiences.push("https://api.contoso.com/orders".into());
        m
    },
    entra_v1(json!({ "aud": "https://api.contoso.com/orders" })),
    |p| {
        assert!(p.has_role("Orders.Admin"));
    }
);

case!(
    entra_group_ids_to_roles,
    RoleMapper::entra_id(ENTRA_CLIENT).with_source(
        ClaimSource::roles("groups")
            .unwrap()
            .with_value_map([(GROUP_ADMINS, "admin")], Unmapped::Drop)
    ),
    entra_v2(json!({ "groups": [GROUP_STAFF, GROUP_ADMINS] })),
    |p| {
        assert!(p.has_role("admin"));
        assert!(!p.has_role(GROUP_STAFF));
        assert!(p.in_group(GROUP_ADMINS));
    }
);

// ---- Okta ----

case!(
    okta_access_token,
    RoleMapper::okta(),
    json!({
        "ver": 1,
        "jti": "AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE",
        "iss": "https://dev-123456.okta.com/oauth2/default",
        "aud": "api://default",
        "iat": 1_763_890_000, "exp": 1_763_893_600,
        "cid": "0oa1b2c3d4e5f6g7h8i9",
        "uid": "00u1a2b3c4d5e6f7g8h9",
        "scp": ["openid", "profile", "orders:read"],
        "auth_time": 1_763_889_990,
        "sub": "jane@example.com",
        "groups": ["Everyone", "Admins"]
    }),
    |p| {
        assert_eq!(p.subject.as_deref(), Some("jane@example.com"));
        assert_eq!(p.scopes, set(&["openid", "profile", "orders:read"]));
        assert_eq!(p.groups, set(&["Everyone", "Admins"]));
        assert_eq!(p.roles, set(&["Everyone", "Admins"]));
    }
);

case!(
    okta_id_token,
    RoleMapper::okta(),
    json!({
        "sub": "00u1a2b3c4d5e6f7g8h9",
        "name": "Jane Doe",
        "email": "jane@example.com",
        "ver": 1,
        "iss": "https://dev-123456.okta.com",
        "aud": "0oa1b2c3d4e5f6g7h8i9",
        "iat": 1_763_890_000, "exp": 1_763_893_600,
        "jti": "ID.4eAWJOCMB3SX8XewDfVR",
        "amr": ["pwd"],
        "idp": "00o1a2b3c4d5e6f7g8h9",
        "nonce": "n-0S6_WzA2Mj",
        "preferred_username": "jane@example.com",
        "auth_time": 1_763_889_990,
        "at_hash": "preview_at_hash",
        "email_verified": true,
        "groups": ["Everyone"]
    }),
    |p| {
        assert_eq!(p.email.as_deref(), Some("jane@example.com"));
        assert!(p.scopes.is_empty());
        assert!(p.in_group("Everyone"));
    }
);

// ---- Keycloak ----

fn keycloak_token() -> Value {
    json!({
        "exp": 1_763_893_600, "iat": 1_763_890_000,
        "jti": "onrtac:8c2b6f3e-5d41-4b7a-9a0e-7f1c2d3e4f50",
        "iss": "https://sso.example.com/realms/acme",
        "aud": ["orders-api", "account"],
        "sub": "f1e2d3c4-b5a6-4789-9abc-def012345678",
        "typ": "Bearer",
        "azp": "orders-web",
        "sid": "0d9a8b7c-6e5f-4a3b-2c1d-0e9f8a7b6c5d",
        "acr": "1",
        "allowed-origins": ["https://orders.example.com"],
        "realm_access": { "roles": ["offline_access", "uma_authorization", "default-roles-acme", "manager"] },
        "resource_access": {
            "orders-api": { "roles": ["orders-admin"] },
            "account": { "roles": ["manage-account", "view-profile"] }
        },
        "scope": "openid email profile",
        "email_verified": true,
        "name": "Jane Doe",
        "preferred_username": "jane",
        "given_name": "Jane", "family_name": "Doe",
        "email": "jane@example.com",
        "groups": ["/staff", "/staff/managers"]
    })
}

case!(
    keycloak_access_token,
    RoleMapper::keycloak("orders-api"),
    keycloak_token(),
    |p| {
        assert_eq!(
            p.subject.as_deref(),
            Some("f1e2d3c4-b5a6-4789-9abc-def012345678")
        );
        assert_eq!(
            p.issuer.as_deref(),
            Some("https://sso.example.com/realms/acme")
        );
        assert_eq!(
            p.roles,
            set(&[
                "offline_access",
                "uma_authorization",
                "default-roles-acme",
                "manager",
                "orders-admin"
            ])
        );
        assert!(
            !p.has_role("manage-account"),
            "another client's roles must not count"
        );
        assert_eq!(p.scopes, set(&["openid", "email", "profile"]));
        assert_eq!(p.groups, set(&["/staff", "/staff/managers"]));
        assert_eq!(p.email.as_deref(), Some("jane@example.com"));
    }
);

case!(
    keycloak_client_without_roles,
    RoleMapper::keycloak("reports"),
    keycloak_token(),
    |p| {
        assert!(p.has_role("manager"));
        assert!(!p.has_role("orders-admin"));
    }
);

case!(
    keycloak_client_id_with_slash,
    RoleMapper::keycloak("https://app/x~y"),
    json!({
        "sub": "u",
        "resource_access": { "https://app/x~y": { "roles": ["r"] } }
    }),
    |p| {
        assert_eq!(p.roles, set(&["r"]));
    }
);

// ---- Auth0 ----

case!(
    auth0_access_token,
    RoleMapper::auth0("https://example.com"),
    json!({
        "https://example.com/roles": ["admin", "editor"],
        "iss": "https://dev-abc123.us.auth0.com/",
        "sub": "auth0|64f1c2d3e4b5a6978a0b1c2d",
        "aud": ["https://api.example.com", "https://dev-abc123.us.auth0.com/userinfo"],
        "iat": 1_763_890_000, "exp": 1_763_976_400,
        "azp": "Xk1s9d8f7g6h5j4k3l2m1n0b",
        "scope": "openid profile email read:orders",
        "permissions": ["read:orders", "write:orders"]
    }),
    |p| {
        assert_eq!(p.subject.as_deref(), Some("auth0|64f1c2d3e4b5a6978a0b1c2d"));
        assert_eq!(p.roles, set(&["admin", "editor"]));
        assert_eq!(
            p.scopes,
            set(&["openid", "profile", "email", "read:orders", "write:orders"])
        );
    }
);

case!(
    auth0_namespace_with_trailing_slash,
    RoleMapper::auth0("https://example.com/"),
    json!({
        "https://example.com/roles": ["admin"],
        "sub": "auth0|1"
    }),
    |p| {
        assert_eq!(p.roles, set(&["admin"]));
    }
);

case!(
    auth0_id_token_unverified_email,
    RoleMapper::auth0("https://example.com"),
    json!({
        "https://example.com/roles": [],
        "nickname": "jane", "name": "jane@example.com",
        "picture": "https://s.gravatar.com/avatar/x.png",
        "updated_at": "2026-11-23T12:00:00.000Z",
        "email": "jane@example.com", "email_verified": false,
        "iss": "https://dev-abc123.us.auth0.com/",
        "aud": "Xk1s9d8f7g6h5j4k3l2m1n0b",
        "sub": "auth0|64f1c2d3e4b5a6978a0b1c2d",
        "iat": 1_763_890_000, "exp": 1_763_926_000,
        "sid": "aBcDeFgHiJkLmNoP", "nonce": "abc"
    }),
    |p| {
        assert!(p.roles.is_empty());
        assert_eq!(p.email, None, "an unverified e-mail must not be taken");
    }
);

// ---- Cognito ----

case!(
    cognito_access_token,
    RoleMapper::cognito(),
    json!({
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "cognito:groups": ["admin", "reporting"],
        "iss": "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_example",
        "version": 2,
        "client_id": "1example23456789",
        "origin_jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "event_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "token_use": "access",
        "scope": "phone openid email aws.cognito.signin.user.admin",
        "auth_time": 1_763_890_000, "exp": 1_763_893_600, "iat": 1_763_890_000,
        "jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "username": "my-test-user"
    }),
    |p| {
        assert_eq!(p.groups, set(&["admin", "reporting"]));
        assert_eq!(p.roles, set(&["admin", "reporting"]));
        assert_eq!(
            p.scopes,
            set(&["phone", "openid", "email", "aws.cognito.signin.user.admin"])
        );
    }
);

case!(
    cognito_id_token,
    RoleMapper::cognito(),
    json!({
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "cognito:groups": ["admin"],
        "email_verified": true,
        "cognito:preferred_role": "arn:aws:iam::111122223333:role/my-test-role",
        "iss": "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_example",
        "cognito:username": "my-test-user",
        "origin_jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "cognito:roles": ["arn:aws:iam::111122223333:role/my-test-role"],
        "aud": "xxxxxxxxxxxxexample",
        "event_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "token_use": "id",
        "auth_time": 1_763_890_000, "exp": 1_763_893_600, "iat": 1_763_890_000,
        "jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "email": "my-test-user@example.com"
    }),
    |p| {
        assert_eq!(p.roles, set(&["admin"]), "IAM role ARNs are not app roles");
        assert_eq!(p.email.as_deref(), Some("my-test-user@example.com"));
    }
);

case!(
    cognito_email_verified_as_string,
    RoleMapper::cognito(),
    json!({
        "sub": "s", "email": "a@example.com", "email_verified": "true"
    }),
    |p| {
        assert_eq!(p.email.as_deref(), Some("a@example.com"));
    }
);

// ---- Google ----

case!(
    google_workspace_id_token,
    RoleMapper::google(),
    json!({
        "iss": "https://accounts.google.com",
        "azp": "1234987819200.apps.googleusercontent.com",
        "aud": "1234987819200.apps.googleusercontent.com",
        "sub": "10769150350006150715113082367",
        "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q",
        "hd": "example.com",
        "email": "jsmith@example.com",
        "email_verified": true,
        "iat": 1_763_890_000, "exp": 1_763_893_600,
        "nonce": "0394852-3190485-2490358"
    }),
    |p| {
        assert_eq!(p.subject.as_deref(), Some("10769150350006150715113082367"));
        assert_eq!(p.tenant.as_deref(), Some("example.com"));
        assert_eq!(p.email.as_deref(), Some("jsmith@example.com"));
        assert!(p.roles.is_empty() && p.scopes.is_empty() && p.groups.is_empty());
    }
);

case!(
    google_consumer_unverified,
    RoleMapper::google(),
    json!({
        "iss": "https://accounts.google.com",
        "aud": "1234987819200.apps.googleusercontent.com",
        "sub": "110169484474386276334",
        "email": "someone@gmail.com",
        "email_verified": false,
        "iat": 1_763_890_000, "exp": 1_763_893_600
    }),
    |p| {
        assert_eq!(p.tenant, None);
        assert_eq!(p.email, None);
    }
);

// ---- Cloudflare Access (application token shapes from Cloudflare's
// "Application token" documentation) ----

const CF_AUD: &str = "32eafc7626e974616deaf0dc3ce63d7bcbed58a2731e84d06bc3cdf1b53c4228";
const CF_ISS: &str = "https://yourteam.cloudflareaccess.com";
const CF_SERVICE: &str = "76a4ca6c48d4c7dad5e1e8b3a0e4ba0a.access";

fn cf_user_token() -> Value {
    json!({
        "aud": [CF_AUD], "email": "user@example.com",
        "exp": 1_795_431_600, "iat": 1_795_428_000, "nbf": 1_795_428_000,
        "iss": CF_ISS, "type": "app", "identity_nonce": "6ei69kawdKzMIAPF",
        "sub": "7335d417-61da-459d-899c-0a01c76a2f94", "country": "US",
    })
}

fn cf_service_token() -> Value {
    json!({
        "type": "app", "aud": [CF_AUD],
        "exp": 1_795_431_600, "iat": 1_795_428_000, "nbf": 1_795_428_000,
        "iss": CF_ISS, "common_name": CF_SERVICE, "sub": "",
    })
}

case!(
    cloudflare_access_user_token,
    RoleMapper::cloudflare_access(),
    cf_user_token(),
    |p| {
        assert_eq!(
            p.subject.as_deref(),
            Some("7335d417-61da-459d-899c-0a01c76a2f94")
        );
        assert_eq!(p.email.as_deref(), Some("user@example.com"));
        assert_eq!(p.issuer.as_deref(), Some(CF_ISS));
        assert!(p.roles.is_empty(), "{:?}", p.roles);
    }
);

case!(
    cloudflare_access_service_token,
    RoleMapper::cloudflare_access(),
    cf_service_token(),
    |p| {
        assert_eq!(p.subject.as_deref(), Some(CF_SERVICE));
        assert_eq!(p.email, None);
        assert_eq!(
            p.roles,
            set(&[&format!(
                "{}{CF_SERVICE}",
                edge_auth::oidc::CLOUDFLARE_SERVICE_TOKEN_PREFIX
            )])
        );
    }
);

case!(
    cloudflare_access_user_cannot_claim_a_service_role,
    RoleMapper::cloudflare_access(),
    {
        let mut claims = cf_user_token();
        merge(&mut claims, json!({"roles": ["service-token:x.access"]}));
        claims
    },
    |p| {
        assert!(p.roles.is_empty(), "{:?}", p.roles);
    }
);

mod cloudflare_access_gate {
    use super::*;
    use crate::support::jwt::{TestKey, now};
    use aws_lc_rs::rsa::KeySize;
    use edge_auth::gate::{CF_ACCESS_JWT_ASSERTION, Gate, GateConfig, IssuerConfig, Outcome};
    use edge_auth::jwt::Algorithm;
    use edge_auth::policy::{Policy, RequestFacts};
    use http::{HeaderMap, StatusCode};

    const POLICY: &str = r#"{"rules":[
      {"id":"deploy","match":{"paths":["/deploy"]},
       "require":{"any_roles":["service-token:76a4ca6c48d4c7dad5e1e8b3a0e4ba0a.access"]},"effect":"allow"},
      {"id":"app","match":{"paths":["/app/**"]},"require":{"authenticated":true},"effect":"allow"}]}"#;

    fn gate() -> Gate {
        let policy = Policy::from_json(POLICY).unwrap().compile().unwrap();
        Gate::new(GateConfig::cloudflare_access("yourteam", CF_AUD).with_policy(policy)).unwrap()
    }

    /// The certs endpoint's shape: the JWKS plus the PEM certificates,
    /// which the key set ignores.
    fn certs(key: &TestKey) -> Vec<u8> {
        let jwks: Value = serde_json::from_slice(&crate::support::jwt::jwks(&[key])).unwrap();
        json!({
            "keys": jwks["keys"],
            "public_cert": {"kid": "k", "cert": "-----BEGIN CERTIFICATE-----"},
            "public_certs": [{"kid": "k", "cert": "-----BEGIN CERTIFICATE-----"}],
        })
        .to_string()
        .into_bytes()
    }

    fn check(gate: &Gate, key: &TestKey, path: &str, headers: &[(&str, &str)]) -> Outcome {
        let mut b = http::Request::get(path).header("host", "app.example.com");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let parts = b.body(()).unwrap().into_parts().0;
        let facts = RequestFacts::from_parts(&parts);
        match gate.check(&parts, &facts, now()) {
            Outcome::FetchKeys(plan) => {
                assert_eq!(
                    plan.url(),
                    "https://yourteam.cloudflareaccess.com/cdn-cgi/access/certs"
                );
                gate.apply_fetch_response(
                    &plan,
                    StatusCode::OK,
                    &HeaderMap::new(),
                    &certs(key),
                    now(),
                )
                .unwrap();
                gate.check(&parts, &facts, now())
            }
            other => other,
        }
    }

    fn allowed(outcome: Outcome) -> (edge_auth::Principal, String) {
        match outcome {
            Outcome::Allow {
                principal,
                decision,
            } => (*principal.unwrap(), decision.rule_id.unwrap_or_default()),
            other => panic!("expected allow, got {other:?}"),
        }
    }

    #[test]
    fn cloudflare_access_preset_names_issuer_certs_and_header() {
        let issuer =
            IssuerConfig::cloudflare_access("https://YourTeam.cloudflareaccess.com/", CF_AUD);
        assert_eq!(issuer.issuer, CF_ISS);
        assert_eq!(
            issuer.jwks_uri.as_deref(),
            Some("https://yourteam.cloudflareaccess.com/cdn-cgi/access/certs")
        );
        assert_eq!(issuer.audiences, vec![CF_AUD.to_owned()]);
        assert_eq!(issuer.validation.algorithms, vec![Algorithm::RS256]);
        assert_eq!(CF_ACCESS_JWT_ASSERTION.as_str(), "cf-access-jwt-assertion");
    }

    #[test]
    fn cloudflare_access_user_token_from_header_is_allowed() {
        let key = TestKey::rsa("cf1", KeySize::Rsa2048);
        let token = key.mint(Algorithm::RS256, &cf_user_token());
        let (p, rule) = allowed(check(
            &gate(),
            &key,
            "/app/home",
            &[("cf-access-jwt-assertion", &token)],
        ));
        assert_eq!(rule, "app");
        assert_eq!(
            p.subject.as_deref(),
            Some("7335d417-61da-459d-899c-0a01c76a2f94")
        );
        assert_eq!(p.email.as_deref(), Some("user@example.com"));
    }

    #[test]
    fn cloudflare_access_service_token_reaches_its_route() {
        let key = TestKey::rsa("cf1", KeySize::Rsa2048);
        let token = key.mint(Algorithm::RS256, &cf_service_token());
        let (p, rule) = allowed(check(
            &gate(),
            &key,
            "/deploy",
            &[("cf-access-jwt-assertion", &token)],
        ));
        assert_eq!(rule, "deploy");
        assert_eq!(p.subject.as_deref(), Some(CF_SERVICE));
    }

    #[test]
    fn cloudflare_access_user_token_cannot_reach_service_route() {
        let key = TestKey::rsa("cf1", KeySize::Rsa2048);
        let token = key.mint(Algorithm::RS256, &cf_user_token());
        let outcome = check(
            &gate(),
            &key,
            "/deploy",
            &[("cf-access-jwt-assertion", &token)],
        );
        assert!(matches!(outcome, Outcome::Deny(_)), "{outcome:?}");
    }

    #[test]
    fn cloudflare_access_token_for_another_application_is_refused() {
        let key = TestKey::rsa("cf1", KeySize::Rsa2048);
        let mut claims = cf_user_token();
        claims["aud"] = json!(["0000000000000000000000000000000000000000000000000000000000000000"]);
        let token = key.mint(Algorithm::RS256, &claims);
        match check(
            &gate(),
            &key,
            "/app/home",
            &[("cf-access-jwt-assertion", &token)],
        ) {
            Outcome::Deny(r) => assert_eq!(r.status(), StatusCode::UNAUTHORIZED),
            other => panic!("expected a denial, got {other:?}"),
        }
    }

    #[test]
    fn cloudflare_access_token_of_another_team_is_refused() {
        let key = TestKey::rsa("cf1", KeySize::Rsa2048);
        let mut claims = cf_user_token();
        claims["iss"] = json!("https://otherteam.cloudflareaccess.com");
        let token = key.mint(Algorithm::RS256, &claims);
        let outcome = check(
            &gate(),
            &key,
            "/app/home",
            &[("cf-access-jwt-assertion", &token)],
        );
        assert!(matches!(outcome, Outcome::Deny(_)), "{outcome:?}");
    }

    #[test]
    fn cloudflare_access_token_as_bearer_is_not_read() {
        let key = TestKey::rsa("cf1", KeySize::Rsa2048);
        let token = key.mint(Algorithm::RS256, &cf_user_token());
        match check(
            &gate(),
            &key,
            "/app/home",
            &[("authorization", &format!("Bearer {token}"))],
        ) {
            Outcome::Deny(r) => {
                assert_eq!(r.kind(), edge_auth::response::RejectionKind::MissingToken);
            }
            other => panic!("expected a denial, got {other:?}"),
        }
    }
}

// ---- Generic mapper ----

case!(
    pointer_into_nested_object,
    RoleMapper::new().with_source(ClaimSource::roles("/app/authz/roles").unwrap()),
    json!({ "app": { "authz": { "roles": ["a", "b"] } } }),
    |p| {
        assert_eq!(p.roles, set(&["a", "b"]));
    }
);

case!(
    pointer_array_index,
    RoleMapper::new().with_source(ClaimSource::roles("/tenants/1/role").unwrap()),
    json!({ "tenants": [{ "role": "x" }, { "role": "y" }] }),
    |p| {
        assert_eq!(p.roles, set(&["y"]));
    }
);

case!(
    pointer_leading_zero_index_finds_nothing,
    RoleMapper::new().with_source(ClaimSource::roles("/tenants/01/role").unwrap()),
    json!({ "tenants": [{ "role": "x" }, { "role": "y" }] }),
    |p| {
        assert!(p.roles.is_empty());
    }
);

case!(
    pointer_escaped_url_name,
    RoleMapper::new().with_source(ClaimSource::roles("/https:~1~1example.com~1roles").unwrap()),
    json!({ "https://example.com/roles": ["admin"] }),
    |p| {
        assert_eq!(p.roles, set(&["admin"]));
    }
);

case!(
    plain_name_with_colon_and_slashes,
    RoleMapper::new()
        .with_source(ClaimSource::roles("https://example.com/roles").unwrap())
        .with_source(ClaimSource::groups("cognito:groups").unwrap()),
    json!({ "https://example.com/roles": ["admin"], "cognito:groups": ["g"] }),
    |p| {
        assert_eq!(p.roles, set(&["admin"]));
        assert_eq!(p.groups, set(&["g"]));
    }
);

case!(
    single_string_role,
    RoleMapper::new().with_source(ClaimSource::roles("role").unwrap()),
    json!({ "role": "Global Admin" }),
    |p| {
        assert_eq!(p.roles, set(&["Global Admin"]));
    }
);

case!(
    space_delimited_roles,
    RoleMapper::new().with_source(
        ClaimSource::roles("roles")
            .unwrap()
            .with_split(Split::Spaces)
    ),
    json!({ "roles": "a  b c" }),
    |p| {
        assert_eq!(p.roles, set(&["a", "b", "c"]));
    }
);

case!(
    scopes_from_array_and_string,
    RoleMapper::new()
        .with_source(ClaimSource::scopes("scp").unwrap())
        .with_source(ClaimSource::scopes("scope").unwrap()),
    json!({ "scp": ["a", "b"], "scope": "c d" }),
    |p| {
        assert_eq!(p.scopes, set(&["a", "b", "c", "d"]));
    }
);

case!(
    non_string_values_ignored,
    RoleMapper::new()
        .with_source(ClaimSource::roles("roles").unwrap())
        .with_source(ClaimSource::roles("other").unwrap())
        .with_source(ClaimSource::roles("obj").unwrap()),
    json!({ "roles": ["a", 1, true, null, ["nested"], {"x": "y"}, ""], "other": 42, "obj": {"roles": ["z"]} }),
    |p| {
        assert_eq!(p.roles, set(&["a"]));
    }
);

case!(
    value_map_keep_unmapped,
    RoleMapper::new().with_source(
        ClaimSource::roles("groups")
            .unwrap()
            .with_value_map([("g1", "reader")], Unmapped::Keep)
    ),
    json!({ "groups": ["g1", "g2"] }),
    |p| {
        assert_eq!(p.roles, set(&["reader", "g2"]));
    }
);

case!(
    value_map_drop_unmapped,
    RoleMapper::new().with_source(
        ClaimSource::roles("groups")
            .unwrap()
            .with_value_map([("g1", "reader")], Unmapped::Drop)
    ),
    json!({ "groups": ["g1", "g2"] }),
    |p| {
        assert_eq!(p.roles, set(&["reader"]));
    }
);

case!(
    strip_fold_prefix_in_order,
    RoleMapper::new().with_source(
        ClaimSource::roles("roles")
            .unwrap()
            .with_strip_prefix("ROLE_")
            .with_fold_case(true)
            .with_value_map([("admin", "administrator")], Unmapped::Keep)
            .with_prefix("app:")
    ),
    json!({ "roles": ["ROLE_ADMIN", "ROLE_User", "Other"] }),
    |p| {
        assert_eq!(
            p.roles,
            set(&["app:administrator", "app:user", "app:other"])
        );
    }
);

case!(
    missing_claims_give_empty_principal,
    RoleMapper::entra_id(ENTRA_CLIENT),
    json!({}),
    |p| {
        assert_eq!(p.subject, None);
        assert!(p.roles.is_empty() && p.scopes.is_empty() && p.groups.is_empty());
        assert!(p.groups_overage().is_none());
    }
);

case!(
    subject_must_be_string,
    RoleMapper::new(),
    json!({ "sub": 12345 }),
    |p| {
        assert_eq!(p.subject, None);
    }
);

case!(
    claims_kept_for_policy,
    RoleMapper::new(),
    json!({ "sub": "u", "department": "sales" }),
    |p| {
        assert_eq!(p.claims.get("department"), Some(&json!("sales")));
    }
);

case!(
    claims_not_kept_when_disabled,
    {
        let mut m = RoleMapper::new();
        m.keep_claims = false;
        m
    },
    json!({ "sub": "u", "department": "sales" }),
    |p| {
        assert!(p.claims.is_empty());
    }
);

case!(
    distributed_claim_for_custom_source,
    RoleMapper::new().with_source(ClaimSource::roles("/entitlements/list").unwrap()),
    json!({
        "_claim_names": { "entitlements": "s" },
        "_claim_sources": { "s": { "endpoint": "https://idp.example.com/claims" } }
    }),
    |p| {
        assert_eq!(
            p.groups_overage().and_then(|o| o.source.as_deref()),
            Some("https://idp.example.com/claims")
        );
    }
);

case!(
    hasgroups_false_is_not_overage,
    RoleMapper::entra_id(ENTRA_CLIENT),
    entra_v2(json!({ "hasgroups": false })),
    |p| {
        assert!(p.groups_overage().is_none());
    }
);

case!(
    malformed_claim_sources_still_overage,
    RoleMapper::entra_id(ENTRA_CLIENT),
    entra_v2(json!({
        "_claim_names": { "groups": "src1" }, "_claim_sources": "garbage"
    })),
    |p| {
        assert_eq!(p.groups_overage().map(|o| o.source.clone()), Some(None));
    }
);

// ---- Limits ----

#[test]
fn too_many_values_are_capped_and_flagged() {
    let groups: Vec<String> = (0..1000).map(|i| format!("g{i:04}")).collect();
    let claims = json!({ "groups": groups });
    let p = RoleMapper::okta().map(claims.as_object().unwrap());
    assert_eq!(
        p.groups.len(),
        edge_auth::oidc::DEFAULT_MAX_VALUES_PER_CLAIM
    );
    assert!(p.truncated);
}

#[test]
fn overlong_values_are_skipped_and_flagged() {
    let long = "r".repeat(edge_auth::oidc::DEFAULT_MAX_VALUE_LEN + 1);
    let claims = json!({ "roles": [long, "ok"] });
    let p = RoleMapper::new()
        .with_source(ClaimSource::roles("roles").unwrap())
        .map(claims.as_object().unwrap());
    assert_eq!(p.roles, set(&["ok"]));
    assert!(p.truncated);
}

#[test]
fn limits_are_configurable() {
    let mut m = RoleMapper::new().with_source(ClaimSource::scopes("scope").unwrap());
    m.max_values_per_claim = 2;
    let p = m.map(json!({ "scope": "a b c" }).as_object().unwrap());
    assert_eq!(p.scopes, set(&["a", "b"]));
    assert!(p.truncated);
}

#[test]
fn truncation_and_overage_mark_the_set_they_leave_incomplete() {
    let roles: Vec<String> = (0..300).map(|i| format!("r{i}")).collect();
    let mapper = RoleMapper::new()
        .with_source(ClaimSource::roles("roles").unwrap())
        .with_source(ClaimSource::scopes("scp").unwrap())
        .with_source(
            ClaimSource::roles("groups")
                .unwrap()
                .with_value_map([(GROUP_ADMINS, "admin")], Unmapped::Drop),
        );
    let p = mapper.map(json!({ "roles": roles, "scp": "a b" }).as_object().unwrap());
    assert!(p.truncated);
    assert!(p.incomplete.roles && !p.incomplete.scopes && !p.incomplete.groups);
    assert!(!p.roles_complete() && p.scopes_complete() && p.groups_complete());
    // Groups mapped to roles, moved to a distributed claim: the roles they
    // feed are incomplete, though nothing was cut.
    let claims = entra_v1(overage("https://graph.windows.net/x"));
    let p = mapper.map(claims.as_object().unwrap());
    assert!(!p.truncated);
    assert!(p.incomplete.roles && !p.roles_complete());
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(v["incomplete"], json!({ "roles": true }));
    // A complete principal serialises without the marker.
    let p = mapper.map(json!({ "roles": ["a"] }).as_object().unwrap());
    assert!(p.roles_complete());
    assert!(
        serde_json::to_value(&p)
            .unwrap()
            .get("incomplete")
            .is_none()
    );
}

#[test]
fn fold_case_folds_ascii_only() {
    let mapper = RoleMapper::new().with_source(
        ClaimSource::roles("roles")
            .unwrap()
            .with_fold_case(true)
            .with_value_map([("kube-admin", "cluster-admin")], Unmapped::Keep),
    );
    // U+212A KELVIN SIGN lower-cases to ASCII `k` under Unicode rules; so do
    // U+0130 (to `i` + a combining dot) and, by upper case, U+017F (`S`).
    let claims = json!({ "roles": ["\u{212A}ube-admin", "\u{130}nfra", "\u{17F}re", "ÉDITOR", "Kube-Viewer"] });
    let p = mapper.map(claims.as_object().unwrap());
    assert!(!p.has_role("kube-admin"));
    assert!(!p.has_role("cluster-admin"));
    assert!(p.has_role("\u{212A}ube-admin"));
    assert!(p.has_role("\u{130}nfra"));
    assert!(p.has_role("\u{17F}re"));
    // ASCII letters fold; the rest is kept as is.
    assert!(p.has_role("Éditor"));
    assert!(p.has_role("kube-viewer"));
    assert_eq!(p.roles.len(), 5);
}

#[test]
fn principal_serialises_with_markers() {
    let claims = entra_v1(overage("https://graph.windows.net/x"));
    let p = RoleMapper::entra_id(ENTRA_CLIENT).map(claims.as_object().unwrap());
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(v["groups_overage"]["source"], "https://graph.windows.net/x");
    assert!(v.get("truncated").is_none());
}

// ---- Claim paths ----

#[test]
fn claim_path_errors() {
    assert_eq!(ClaimPath::try_from_str(""), Err(OidcError::EmptyPath));
    assert!(matches!(
        ClaimPath::try_from_str("/a~"),
        Err(OidcError::InvalidEscape { offset: 2, .. })
    ));
    assert!(matches!(
        ClaimPath::try_from_str("/a/b~x"),
        Err(OidcError::InvalidEscape { offset: 4, .. })
    ));
    assert!(matches!(
        ClaimPath::try_from_pointer("roles"),
        Err(OidcError::NotAPointer { .. })
    ));
    let deep = "/a".repeat(33);
    assert!(matches!(
        ClaimPath::try_from_str(&deep),
        Err(OidcError::PathTooDeep { max: 32, .. })
    ));
    assert_eq!(
        ClaimPath::try_from_str("/x~2").unwrap_err().to_string(),
        "claim path `/x~2` has an invalid `~` escape at byte 2, expected `~0` or `~1`"
    );
}

#[test]
fn claim_path_forms() {
    let p: ClaimPath = "/~1roles".parse().unwrap();
    assert_eq!(p.top_level(), "/roles");
    let n = ClaimPath::from_name("/roles");
    let claims = json!({ "/roles": ["a"] });
    assert_eq!(
        p.resolve(claims.as_object().unwrap()),
        n.resolve(claims.as_object().unwrap())
    );
    assert!(p.resolve(claims.as_object().unwrap()).is_some());
    // The empty token is a valid pointer to the "" member (RFC 6901 §5).
    let e = ClaimPath::try_from_str("/").unwrap();
    assert_eq!(
        e.resolve(json!({ "": "v" }).as_object().unwrap()),
        Some(&json!("v"))
    );
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z ~/]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("roles".to_owned()),
                    Just("groups".to_owned()),
                    Just("scp".to_owned()),
                    Just("_claim_names".to_owned()),
                    Just("_claim_sources".to_owned()),
                    Just("realm_access".to_owned()),
                    Just("resource_access".to_owned()),
                    Just("aud".to_owned()),
                    "[a-z]{1,4}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_claims_never_panic(claims in prop::collection::btree_map(
        prop_oneof![Just("roles".to_owned()), Just("groups".to_owned()), Just("scp".to_owned()), Just("scope".to_owned()),
            Just("_claim_names".to_owned()), Just("_claim_sources".to_owned()), Just("realm_access".to_owned()),
            Just("resource_access".to_owned()), Just("aud".to_owned()), Just("sub".to_owned()), Just("hasgroups".to_owned()),
            Just("email_verified".to_owned()), Just("wids".to_owned()), Just("cognito:groups".to_owned())],
        arb_json(), 0..10)) {
        let claims: serde_json::Map<String, Value> = claims.into_iter().collect();
        for mapper in [RoleMapper::entra_id(ENTRA_CLIENT), RoleMapper::okta(), RoleMapper::keycloak("app"),
                       RoleMapper::auth0("https://example.com"), RoleMapper::cognito(), RoleMapper::google()] {
            let p = mapper.map(&claims);
            prop_assert!(p.roles.len() <= 4 * edge_auth::oidc::DEFAULT_MAX_VALUES_PER_CLAIM);
        }
    }

    #[test]
    fn pointer_parse_never_panics(s in "\\PC{0,40}") {
        let _ = ClaimPath::try_from_str(&s);
    }
}
