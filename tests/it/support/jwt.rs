//! Keys and tokens for the JWT tests and benches: keys generated with
//! aws-lc-rs, public JWKs built from them, tokens minted with jsonwebtoken
//! (`mint`) or signed over arbitrary header / payload text (`sign_raw`, for
//! attacks that jsonwebtoken's encoder cannot express).
#![allow(dead_code)]

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self as sig, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn pem(label: &str, der: &[u8]) -> Vec<u8> {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out.into_bytes()
}

pub enum Private {
    Rsa(sig::RsaKeyPair),
    Ec(sig::EcdsaKeyPair, &'static sig::EcdsaSigningAlgorithm),
    Ed(sig::Ed25519KeyPair),
    Hmac(Vec<u8>),
}

/// A test key: private half for signing, public JWK for the key set.
pub struct TestKey {
    pub kid: String,
    pub private: Private,
    pub encoding: EncodingKey,
    pub jwk: Value,
}

impl TestKey {
    pub fn rsa(kid: &str, size: KeySize) -> Self {
        let kp = sig::RsaKeyPair::generate(size).unwrap();
        let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&kp).unwrap();
        let encoding = EncodingKey::from_rsa_pem(&pem("PRIVATE KEY", der.as_ref())).unwrap();
        let c = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(kp.public_key());
        let jwk = json!({"kty":"RSA","kid":kid,"use":"sig","n":b64(&c.n),"e":b64(&c.e)});
        TestKey {
            kid: kid.into(),
            private: Private::Rsa(kp),
            encoding,
            jwk,
        }
    }

    pub fn ec(kid: &str, p384: bool) -> Self {
        let alg: &'static sig::EcdsaSigningAlgorithm = if p384 {
            &sig::ECDSA_P384_SHA384_FIXED_SIGNING
        } else {
            &sig::ECDSA_P256_SHA256_FIXED_SIGNING
        };
        let doc = sig::EcdsaKeyPair::generate_pkcs8(alg, &SystemRandom::new()).unwrap();
        let kp = sig::EcdsaKeyPair::from_pkcs8(alg, doc.as_ref()).unwrap();
        let point = kp.public_key().as_ref().to_vec();
        let size = (point.len() - 1) / 2;
        let jwk = json!({
            "kty":"EC","kid":kid,"use":"sig",
            "crv": if p384 { "P-384" } else { "P-256" },
            "x": b64(&point[1..1 + size]), "y": b64(&point[1 + size..]),
        });
        let encoding = EncodingKey::from_ec_der(doc.as_ref());
        TestKey {
            kid: kid.into(),
            private: Private::Ec(kp, alg),
            encoding,
            jwk,
        }
    }

    pub fn ed25519(kid: &str) -> Self {
        let doc = sig::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let kp = sig::Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
        let jwk = json!({"kty":"OKP","crv":"Ed25519","kid":kid,"x":b64(kp.public_key().as_ref())});
        let encoding = EncodingKey::from_ed_der(doc.as_ref());
        TestKey {
            kid: kid.into(),
            private: Private::Ed(kp),
            encoding,
            jwk,
        }
    }

    pub fn hmac(kid: &str, secret: &[u8]) -> Self {
        let jwk = json!({"kty":"oct","kid":kid,"k":b64(secret)});
        TestKey {
            kid: kid.into(),
            private: Private::Hmac(secret.to_vec()),
            encoding: EncodingKey::from_secret(secret),
            jwk,
        }
    }

    /// A token minted by jsonwebtoken's encoder.
    pub fn mint(&self, alg: Algorithm, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// Signs `header_json.payload_json` (both base64url-encoded here) with
    /// the algorithm named `alg`, whatever the header says.
    pub fn sign_raw(&self, alg: &str, header_json: &str, payload_json: &str) -> String {
        let input = format!(
            "{}.{}",
            b64(header_json.as_bytes()),
            b64(payload_json.as_bytes())
        );
        let signature = self.sign_input(alg, input.as_bytes());
        format!("{input}.{}", b64(&signature))
    }

    pub fn sign_input(&self, alg: &str, input: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.private {
            Private::Rsa(kp) => {
                let pad: &'static dyn sig::RsaEncoding = match alg {
                    "RS256" => &sig::RSA_PKCS1_SHA256,
                    "RS384" => &sig::RSA_PKCS1_SHA384,
                    "RS512" => &sig::RSA_PKCS1_SHA512,
                    "PS256" => &sig::RSA_PSS_SHA256,
                    "PS384" => &sig::RSA_PSS_SHA384,
                    "PS512" => &sig::RSA_PSS_SHA512,
                    other => panic!("RSA key cannot sign {other}"),
                };
                let mut out = vec![0; kp.public_modulus_len()];
                kp.sign(pad, &rng, input, &mut out).unwrap();
                out
            }
            Private::Ec(kp, _) => kp.sign(&rng, input).unwrap().as_ref().to_vec(),
            Private::Ed(kp) => kp.sign(input).as_ref().to_vec(),
            Private::Hmac(secret) => {
                let h = match alg {
                    "HS384" => ring::hmac::HMAC_SHA384,
                    "HS512" => ring::hmac::HMAC_SHA512,
                    _ => ring::hmac::HMAC_SHA256,
                };
                ring::hmac::sign(&ring::hmac::Key::new(h, secret), input)
                    .as_ref()
                    .to_vec()
            }
        }
    }
}

/// `{"keys":[...]}` of the given keys' public JWKs.
pub fn jwks(keys: &[&TestKey]) -> Vec<u8> {
    json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()})
        .to_string()
        .into_bytes()
}

/// 2026-11-23T10:00:00Z, the reference "now" of the tests.
pub fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(1_795_428_000).unwrap()
}

pub fn unix(t: time::OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

/// The claims of an Entra-ID-shaped v2 access token for `tenant` and `aud`,
/// valid for an hour from `now` (about 1 KB once signed with RS256): the
/// benches' typical token.
pub fn entra_access_token_claims(tenant: &str, aud: &str, now: i64) -> Value {
    json!({
        "aud": aud,
        "iss": format!("https://login.microsoftonline.com/{tenant}/v2.0"),
        "iat": now - 60, "nbf": now - 60, "exp": now + 3600,
        "aio": "AWQAm/8YAAAAbH4G2H3lqB1q4nE6o0c2Z5rTJf3jLz2u6ZJ0kqv1W9sYh8bXcA1lJ7m0p6K3eT2y",
        "azp": "1950a258-227b-4e31-a9cf-717495945fc2",
        "azpacr": "0",
        "name": "Alice Example",
        "oid": "00000000-0000-0000-66f3-3332eca7ea81",
        "preferred_username": "alice@contoso.example",
        "rh": "0.AXEAv4j5cvGGr0GRqy180BHbR1oWUhkgIk5K...AA.",
        "roles": ["Gateway.Read", "Gateway.Write"],
        "scp": "access_as_user openid profile",
        "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        "tid": tenant,
        "uti": "fqiBqXLPj0eQa82S-IYFAA",
        "ver": "2.0",
        "wids": ["b79fbf4d-3ef9-4689-8143-76b194e85509"],
    })
}
