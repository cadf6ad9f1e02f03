//! Proving to the upstream that a request came through the gateway: the
//! `sign_upstream` seam (RFC 9421 HTTP Message Signatures or AWS SigV4).

use bytes::Bytes;
use edge_auth::Secret;
use http::{HeaderValue, Request};
use http_body_util::Full;
use time::OffsetDateTime;

use super::proxy::SignUpstream;

/// Signs the request for the upstream.
///
/// TODO(gate): replace the stand-in below with the library signers once they
/// land: `edge_auth::httpsig::Signer::sign(&parts, body, &key, params, now)` ->
/// `SigningOutput::apply_to(&mut request)` for RFC 9421, and
/// `edge_auth::sigv4::sign(&parts, payload, &credentials, &scope, now)` ->
/// `SigningOutput::apply_to(&mut request)` for SigV4.
pub(super) fn sign_upstream(
    request: &mut Request<Full<Bytes>>,
    how: &SignUpstream,
    now: OffsetDateTime,
) -> Result<(), String> {
    match how {
        SignUpstream::None | SignUpstream::SigV4 { .. } => Ok(()),
        SignUpstream::HttpSigHmac { key_id, secret } => {
            standin_httpsig_hmac(request, key_id, secret, now)
        }
    }
}

/// The components the stand-in signs: the request line pieces and the
/// identity headers (unsigned identity headers could be swapped in transit).
pub const SIGNED_COMPONENTS: [&str; 5] = [
    "@method",
    "@authority",
    "@path",
    "x-auth-subject",
    "x-auth-roles",
];

/// TEMPORARY: a minimal RFC 9421 `hmac-sha256` signer (§2.5 signature base,
/// §3.3.3 algorithm) over [`SIGNED_COMPONENTS`] that are present, label `sig1`.
fn standin_httpsig_hmac(
    request: &mut Request<Full<Bytes>>,
    key_id: &str,
    secret: &Secret<Vec<u8>>,
    now: OffsetDateTime,
) -> Result<(), String> {
    use base64::Engine;
    let authority = request
        .uri()
        .authority()
        .map(|a| a.as_str().to_ascii_lowercase())
        .ok_or("no authority")?;
    let mut covered = Vec::new();
    let mut base = String::new();
    for component in SIGNED_COMPONENTS {
        let value = match component {
            "@method" => request.method().as_str().to_owned(),
            "@authority" => authority.clone(),
            "@path" => request.uri().path().to_owned(),
            name => match request.headers().get(name) {
                Some(v) => v
                    .to_str()
                    .map_err(|_| format!("`{name}` is not text"))?
                    .trim()
                    .to_owned(),
                None => continue,
            },
        };
        base.push_str(&format!("\"{component}\": {value}\n"));
        covered.push(format!("\"{component}\""));
    }
    let params = format!(
        "({});created={};keyid=\"{}\";alg=\"hmac-sha256\"",
        covered.join(" "),
        now.unix_timestamp(),
        key_id.replace(['"', '\\'], "")
    );
    base.push_str(&format!("\"@signature-params\": {params}"));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.expose());
    let tag = ring::hmac::sign(&key, base.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(tag.as_ref());
    let headers = request.headers_mut();
    let input = HeaderValue::from_str(&format!("sig1={params}")).map_err(|e| e.to_string())?;
    let mut value =
        HeaderValue::from_str(&format!("sig1=:{signature}:")).map_err(|e| e.to_string())?;
    value.set_sensitive(true);
    headers.insert("signature-input", input);
    headers.insert("signature", value);
    Ok(())
}
