//! Interoperability of SigV4 with botocore (boto3, the AWS CLI).
//!
//! `tests/interop/sigv4/botocore.json` holds requests signed by botocore's
//! `SigV4Auth`, `S3SigV4Auth`, `SigV4QueryAuth` and `S3SigV4QueryAuth` at a
//! fixed time (written by `generate.py` there). One `#[test]` per case:
//!
//! - sign: our [`sigv4::sign`] / [`sigv4::presign`] on the same request,
//!   with [`SigningSettings::s3`] for the S3 signers, produces botocore's
//!   canonical request, string to sign and signature (and `Authorization`);
//! - verify: our [`sigv4::verify`] accepts botocore's signed request as a
//!   server sees it (origin-form target + `Host`) and as a client holds it
//!   (absolute URI), and refuses it once a signed header or a covered body
//!   is changed.
//!
//! A case with a `difference` is one where botocore and we disagree; the
//! test checks the disagreement is exactly the recorded one (our canonical
//! request differs; our verifier accepts or rejects as recorded), and the
//! note says who follows the AWS documentation (see the README there).

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use edge_auth::Secret;
use edge_auth::sigv4::{
    self, Credentials, Payload, SigV4Error, SigningParams, SigningSettings, VerifyParams,
};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn fixture() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/interop/sigv4/botocore.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        serde_json::from_str(&text).expect("botocore.json is JSON")
    })
}

fn case(name: &str) -> &'static Value {
    fixture()["cases"]
        .as_array()
        .expect("cases is a list")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case `{name}` in botocore.json"))
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string"))
}

/// How a request reaches our code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    /// As the client built it: absolute URI.
    Client,
    /// As a server parsed it: origin-form target, authority in `Host`.
    Server,
}

fn build(req: &Value, view: View) -> (http::request::Parts, Vec<u8>) {
    let url: http::Uri = str_of(req, "url").parse().expect("fixture URL parses");
    let uri: http::Uri = match view {
        View::Client => url,
        View::Server => url
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .parse()
            .unwrap(),
    };
    let mut builder = http::Request::builder()
        .method(str_of(req, "method"))
        .uri(uri);
    for pair in req["headers"].as_array().expect("headers is a list") {
        let name = pair[0].as_str().unwrap();
        let value = http::HeaderValue::from_bytes(pair[1].as_str().unwrap().as_bytes())
            .unwrap_or_else(|e| panic!("header `{name}`: {e}"));
        builder = builder.header(name, value);
    }
    let body = B64.decode(str_of(req, "body_b64")).unwrap();
    builder.body(body).unwrap().into_parts()
}

fn at(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &Rfc3339).unwrap()
}

fn credentials(c: &Value) -> Credentials {
    let creds = &fixture()["credentials"];
    let base = Credentials::new(
        str_of(creds, "access_key_id"),
        str_of(creds, "secret_access_key"),
    );
    if c["session_token"].as_bool().unwrap() {
        base.with_session_token(str_of(creds, "session_token"))
    } else {
        base
    }
}

fn settings(c: &Value) -> SigningSettings {
    match str_of(c, "settings") {
        "s3" => SigningSettings::s3(),
        "default" => SigningSettings::default(),
        other => panic!("unknown settings `{other}`"),
    }
}

fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The payload our signer is given for the payload line botocore used.
fn sign_payload<'a>(payload_line: &'a str, body: &'a [u8]) -> Payload<'a> {
    if payload_line == "UNSIGNED-PAYLOAD" {
        Payload::Unsigned
    } else if payload_line == sha256_hex(body) {
        Payload::Bytes(body)
    } else {
        // A hash preset in `x-amz-content-sha256`, which botocore signs as is.
        Payload::Precomputed(payload_line)
    }
}

/// What our signer produced for a case.
struct Ours {
    canonical_request: String,
    string_to_sign: String,
    signature: String,
    /// Header form.
    authorization: Option<String>,
    /// Presigned form.
    presigned_uri: Option<String>,
}

/// Our signature of the case's request.
fn our_signature(c: &Value) -> Ours {
    let time = at(str_of(fixture(), "time"));
    let (parts, body) = build(&c["request"], View::Client);
    let creds = credentials(c);
    let mut params = SigningParams::new(str_of(c, "region"), str_of(c, "service"), time);
    params.settings = settings(c);
    let payload = sign_payload(str_of(c, "payload_line"), &body);
    let out = match c["expires"].as_i64() {
        Some(secs) => sigv4::presign(
            &parts,
            payload,
            &creds,
            &params,
            time::Duration::seconds(secs),
        ),
        None => sigv4::sign(&parts, payload, &creds, &params),
    }
    .unwrap_or_else(|e| panic!("our signer refused the request: {e}"));
    let auth = out
        .headers()
        .iter()
        .find(|(n, _)| n == http::header::AUTHORIZATION)
        .map(|(_, v)| v.to_str().unwrap().to_owned());
    Ours {
        canonical_request: String::from_utf8(out.canonical_request().to_vec())
            .expect("utf-8 canonical request"),
        string_to_sign: out.string_to_sign().to_owned(),
        signature: out.signature().to_owned(),
        authorization: auth,
        presigned_uri: out.presigned_uri().map(ToString::to_string),
    }
}

/// A query's pairs, percent-decoded (`+` as space), sorted: two URLs carry
/// the same parameters whatever their order and encoding.
fn decoded_pairs(url: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'%' if i + 2 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 3;
                }
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                other => {
                    out.push(other);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).unwrap()
    }
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    pairs.sort();
    pairs
}

fn verify(
    c: &Value,
    parts: &http::request::Parts,
    body: &[u8],
) -> Result<sigv4::VerifiedSigner, SigV4Error> {
    let time = at(str_of(fixture(), "time"));
    let creds = &fixture()["credentials"];
    let akid = str_of(creds, "access_key_id");
    let secret = str_of(creds, "secret_access_key");
    let payload_line = str_of(c, "payload_line");
    let mut params = VerifyParams::new(str_of(c, "region"), str_of(c, "service"), time);
    params.settings = settings(c);
    params.allow_unsigned_payload = payload_line == "UNSIGNED-PAYLOAD";
    // A presigned S3 URL signs `UNSIGNED-PAYLOAD` without a header saying
    // so: the verifier is told the body is not checked.
    let unsigned_query = c["expires"].is_i64() && payload_line == "UNSIGNED-PAYLOAD";
    let payload = if unsigned_query {
        Payload::Unsigned
    } else {
        Payload::Bytes(body)
    };
    sigv4::verify(
        parts,
        payload,
        |id| (id == akid).then(|| Secret::new(secret.to_owned())),
        &params,
    )
}

/// A signed header worth tampering with: one the caller chose (not the
/// date), else `host`.
fn header_to_tamper(parts: &http::request::Parts, signed: &[String]) -> String {
    signed
        .iter()
        .find(|h| {
            !matches!(h.as_str(), "host" | "x-amz-date" | "date") && parts.headers.contains_key(*h)
        })
        .cloned()
        .unwrap_or_else(|| "host".to_owned())
}

fn check(name: &str) {
    let c = case(name);
    let boto = &c["botocore"];
    let difference = c.get("difference").filter(|d| !d.is_null());
    let sign_differs = difference.is_some_and(|d| d["sign"] == true);
    let expected_verify = difference.map_or("accept", |d| str_of(d, "verify"));

    // --- sign ----------------------------------------------------------------
    let Ours {
        canonical_request: creq,
        string_to_sign: sts,
        signature: sig,
        authorization: auth,
        presigned_uri,
    } = our_signature(c);
    if sign_differs {
        assert_ne!(
            creq,
            str_of(boto, "canonical_request"),
            "{name}: recorded as a difference, but we now sign as botocore does; update the fixture note"
        );
        assert_ne!(sig, str_of(boto, "signature"));
    } else {
        assert_eq!(
            creq,
            str_of(boto, "canonical_request"),
            "{name}: canonical request"
        );
        assert_eq!(
            sts,
            str_of(boto, "string_to_sign"),
            "{name}: string to sign"
        );
        assert_eq!(sig, str_of(boto, "signature"), "{name}: signature");
        if let Some(boto_auth) = boto["authorization"].as_str() {
            assert_eq!(auth.as_deref(), Some(boto_auth), "{name}: authorization");
        }
        // Our presigned URL carries botocore's parameters (order and
        // encoding of the caller's own query aside).
        if let Some(boto_url) = boto["presigned_url"].as_str() {
            let ours = presigned_uri.expect("presign returns a URL");
            assert_eq!(
                decoded_pairs(&ours),
                decoded_pairs(boto_url),
                "{name}: presigned URL parameters"
            );
            assert_eq!(
                ours.split_once('?').map(|(p, _)| p),
                boto_url.split_once('?').map(|(p, _)| p),
                "{name}: presigned URL path"
            );
        }
    }

    // --- verify botocore's request ------------------------------------------
    for view in [View::Server, View::Client] {
        let (parts, body) = build(&c["wire"], view);
        let result = verify(c, &parts, &body);
        match expected_verify {
            "accept" => {
                let signer =
                    result.unwrap_or_else(|e| panic!("{name} ({view:?}): refused: {e} ({e:?})"));
                assert_eq!(signer.presigned, c["expires"].is_i64(), "{name}");
                assert_eq!(
                    signer.session_token.is_some(),
                    c["session_token"] == true,
                    "{name}"
                );

                // A changed signed header is refused.
                let target = header_to_tamper(&parts, &signer.signed_headers);
                let (mut tampered, body2) = build(&c["wire"], view);
                let old = tampered
                    .headers
                    .get(&target)
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                let new = if target == "host" {
                    "evil.example.com".to_owned()
                } else {
                    format!("{old}x")
                };
                tampered.headers.insert(
                    http::HeaderName::try_from(target.as_str()).unwrap(),
                    new.parse().unwrap(),
                );
                assert!(
                    verify(c, &tampered, &body2).is_err(),
                    "{name} ({view:?}): accepted with `{target}` changed"
                );

                // A changed body is refused when the signature covers it.
                let mut body3 = body.clone();
                body3.push(b'!');
                let covered = str_of(c, "payload_line") != "UNSIGNED-PAYLOAD";
                let r = verify(c, &parts, &body3);
                if covered {
                    assert!(
                        r.is_err(),
                        "{name} ({view:?}): accepted with the body changed"
                    );
                } else {
                    assert!(
                        r.is_ok(),
                        "{name} ({view:?}): UNSIGNED-PAYLOAD does not cover the body: {r:?}"
                    );
                }
            }
            "reject" => {
                let e = result.expect_err(&format!(
                    "{name} ({view:?}): recorded as refused, but our verifier accepts it"
                ));
                let want = difference
                    .and_then(|d| d["error"].as_str())
                    .unwrap_or("SignatureMismatch");
                assert!(
                    format!("{e:?}").starts_with(want),
                    "{name} ({view:?}): refused with {e:?}, recorded {want}"
                );
            }
            other => panic!("{name}: unknown verify outcome `{other}`"),
        }
    }
}

/// The README example (tests/interop/sigv4/NOTES.md): an S3 URL presigned by
/// boto3 / `aws s3 presign`, verified as S3 would.
#[test]
fn readme_example_verify_botocore_presigned_s3_url() -> Result<(), SigV4Error> {
    use edge_auth::Secret;
    use edge_auth::sigv4::{self, Payload, SigningSettings, VerifyParams};
    use time::macros::datetime;

    // boto3: s3.generate_presigned_url("get_object", Params={"Bucket": "examplebucket",
    //     "Key": "test.txt"}, ExpiresIn=86400), at 2026-11-23T10:00:00Z.
    let url = "https://examplebucket.s3.us-east-1.amazonaws.com/test.txt\
        ?X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=AKIDEXAMPLE%2F20261123%2Fus-east-1%2Fs3%2Faws4_request\
        &X-Amz-Date=20261123T100000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
        &X-Amz-Signature=e5858232058c3f920c5a8965995d49895f5343a21a9627c09cfce3a6957a56ab";
    let (parts, _body) = http::Request::get(url).body(()).unwrap().into_parts();

    let mut params = VerifyParams::new("us-east-1", "s3", datetime!(2026-11-24 09:00:00 UTC));
    params.settings = SigningSettings::s3(); // no path normalisation, single encoding
    let signer = sigv4::verify(
        &parts,
        Payload::Unsigned, // a presigned S3 URL signs `UNSIGNED-PAYLOAD`
        |akid| {
            (akid == "AKIDEXAMPLE")
                .then(|| Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned()))
        },
        &params,
    )?;
    assert!(signer.presigned);
    assert_eq!(signer.expires_at, Some(datetime!(2026-11-24 10:00:00 UTC)));
    Ok(())
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        const NAMES: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                check(stringify!($name));
            }
        )*
    };
}

/// Every fixture case has a test (a regenerated fixture with new cases must
/// list them above).
#[test]
fn every_case_is_listed() {
    let in_fixture: Vec<&str> = fixture()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for name in &in_fixture {
        assert!(NAMES.contains(name), "case `{name}` has no #[test]");
    }
    assert_eq!(in_fixture.len(), NAMES.len());
}

cases! {
    apigw_get_vanilla, apigw_get_root_no_path, apigw_get_token, apigw_post_json, apigw_put_binary,
    apigw_delete, apigw_patch_token_json, apigw_head, apigw_options, apigw_custom_port,
    apigw_default_port, apigw_http_port_80, sts_get_caller_identity_form, sts_regional_token,
    dynamodb_get_item, dynamodb_empty_json, lambda_invoke_binary, lambda_function_arn_path,
    es_search_get, es_put_doc, es_query_raw_colon,
    apigw_path_space, apigw_path_plus, apigw_path_encoded_slash, apigw_path_unicode,
    apigw_path_dotdot, apigw_path_leading_dotdot, apigw_path_dot, apigw_path_double_slash,
    apigw_path_trailing_slash, apigw_path_only_slashes, apigw_path_tilde, apigw_path_star,
    apigw_path_quote, apigw_path_bang, apigw_path_parens, apigw_path_reserved_mix,
    apigw_path_lowercase_hex, apigw_path_encoded_unreserved, apigw_path_trailing_dotdot,
    apigw_path_trailing_dot,
    s3_path_space, s3_path_plus, s3_path_encoded_plus, s3_path_encoded_slash, s3_path_unicode,
    s3_path_dotdot, s3_path_dot, s3_path_double_slash, s3_path_trailing_slash, s3_path_tilde,
    s3_path_encoded_specials, s3_path_raw_star, s3_path_raw_quote, s3_path_raw_bang,
    s3_path_raw_parens, s3_path_raw_reserved, s3_path_lowercase_hex, s3_path_style_bucket,
    apigw_query_unsorted, apigw_query_repeated_keys, apigw_query_empty_value,
    apigw_query_no_equals, apigw_query_unicode_encoded, apigw_query_encoded_space,
    apigw_query_encoded_plus, apigw_query_raw_plus, apigw_query_sort_edge,
    apigw_query_sort_encoded_vs_raw, apigw_query_lowercase_hex, apigw_query_raw_slash,
    apigw_query_raw_reserved, apigw_query_encoded_unreserved, apigw_query_empty_pieces,
    apigw_query_params_botocore_encoded, s3_list_objects_v2_params, s3_subresource_no_value,
    s3_versions_empty,
    headers_duplicate, headers_multiple_spaces, headers_mixed_case, headers_leading_trailing_ws,
    headers_tab, headers_excluded_user_agent_trace, headers_hop_by_hop, headers_tracing,
    headers_date_instead_of_x_amz_date, headers_explicit_host, headers_content_sha256_preset,
    headers_content_sha256_unsigned_non_s3,
    s3_get_object, s3_put_object_body, s3_put_object_binary_token, s3_put_unsigned_payload,
    s3_unsigned_payload_token, s3_delete_objects_query, s3_create_multipart_upload, s3_upload_part,
    s3_copy_object,
    presign_apigw_get, presign_apigw_token, presign_apigw_existing_query,
    presign_apigw_path_specials, presign_apigw_with_header, presign_sts_eks_token, presign_apigw_repeated_keys,
    presign_s3_put_content_type,
    presign_max_expires, presign_s3_get, presign_s3_put_token, presign_s3_key_specials,
    presign_s3_response_params, presign_s3_path_style_token,
}
