//! Creating HTTP Message Signatures (RFC 9421 §3.1): build the signature
//! base from the covered components and parameters, sign it, and return the
//! Signature-Input and Signature members. Compute, then apply.

use super::HttpSigError;
use super::base::{Message, RequestView, signature_base};
use super::components::Component;
use super::digest::{DigestAlgorithm, content_digest};
use super::fields;
use super::keyring::SigningKey;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::{HeaderMap, HeaderValue};
use time::{Duration, OffsetDateTime};

/// What a [`Signer`] covers and which parameters it sends.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SignerConfig {
    /// The signature label (a structured-field key, e.g. `sig1`).
    pub label: String,
    /// Covered components, in order. Default: `@method`, `@authority`,
    /// `@path`, `@query`, `content-digest`.
    pub components: Vec<Component>,
    /// Send `expires` this long after `created`. Default: 5 minutes.
    pub expires_after: Option<Duration>,
    /// Send `created` (the caller's `now`). Default: true.
    pub include_created: bool,
    /// Send the `alg` parameter. Default: false (RFC 9421 §3.2: the
    /// verifier takes the algorithm from the key).
    pub include_alg: bool,
    /// Send the `keyid` parameter. Default: true.
    pub include_keyid: bool,
    /// Application-specific `tag` parameter. Default: none.
    pub tag: Option<String>,
    /// Compute a Content-Digest of the body with this algorithm when
    /// `content-digest` is covered; the output sets the field. `None` signs
    /// the Content-Digest already on the message. Default: `sha-256`.
    pub content_digest: Option<DigestAlgorithm>,
    /// Scheme for `@scheme`, `@target-uri` and default-port removal when the
    /// URI has none (origin-form). Default: `https`.
    pub assumed_scheme: String,
}

impl Default for SignerConfig {
    fn default() -> Self {
        let names = ["@method", "@authority", "@path", "@query", "content-digest"];
        Self {
            label: "sig1".to_owned(),
            components: names
                .iter()
                .filter_map(|n| Component::try_from_name(n).ok())
                .collect(),
            expires_after: Some(Duration::minutes(5)),
            include_created: true,
            include_alg: false,
            include_keyid: true,
            tag: None,
            content_digest: Some(DigestAlgorithm::Sha256),
            assumed_scheme: "https".to_owned(),
        }
    }
}

/// Signs requests (and responses) with one key.
///
/// ```
/// use edge_auth::Secret;
/// use edge_auth::httpsig::{Signer, SignerConfig, SigningKey};
/// let key = SigningKey::try_from_hmac_sha256("k1", &Secret::new(vec![7; 32]))?;
/// let signer = Signer::new(key, SignerConfig::default())?;
/// let mut req = http::Request::post("https://api.example/v1/items?x=1").body(b"{}".to_vec())?;
/// let now = time::OffsetDateTime::from_unix_timestamp(1_795_428_000)?;
/// let (parts, body) = req.into_parts();
/// let out = signer.sign(&parts, &body, Some("n-1"), now)?;
/// let mut req = http::Request::from_parts(parts, body);
/// out.apply_to(&mut req);
/// assert!(req.headers().contains_key("signature-input"));
/// assert!(req.headers().contains_key("content-digest"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Signer {
    key: SigningKey,
    config: SignerConfig,
    /// `("@method" …)`: the covered components, serialised once.
    inner_list: String,
    /// `;keyid=…;alg=…` and `;tag=…` as configured, serialised once (the
    /// per-signature parameters go around them), or why a value cannot be
    /// serialised: reported when signing, as if written then.
    keyid_alg: Result<String, String>,
    tag: Result<String, String>,
    /// Whether the signer computes Content-Digest itself.
    makes_digest: Option<DigestAlgorithm>,
}

/// The result of signing: header values to add and the signature base.
#[derive(Debug, Clone)]
pub struct SigningOutput {
    label: String,
    signature_input: HeaderValue,
    signature: HeaderValue,
    content_digest: Option<HeaderValue>,
    signature_base: String,
}

impl SigningOutput {
    /// The label the signature was made under.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The Signature-Input member, e.g. `sig1=("@method" …);created=…`.
    pub fn signature_input(&self) -> &HeaderValue {
        &self.signature_input
    }

    /// The Signature member, e.g. `sig1=:…:` (marked sensitive).
    pub fn signature(&self) -> &HeaderValue {
        &self.signature
    }

    /// The Content-Digest value computed from the body, when the signer made one.
    pub fn content_digest(&self) -> Option<&HeaderValue> {
        self.content_digest.as_ref()
    }

    /// The signature base that was signed (RFC 9421 §2.5), for debugging and
    /// interoperability tests.
    pub fn signature_base(&self) -> &str {
        &self.signature_base
    }

    /// Adds Signature-Input and Signature (appended, so earlier signatures
    /// stay) and sets Content-Digest when one was computed.
    pub fn apply_to<B>(&self, request: &mut http::Request<B>) {
        self.apply_to_headers(request.headers_mut());
    }

    /// Like [`SigningOutput::apply_to`], for a response.
    pub fn apply_to_response<B>(&self, response: &mut http::Response<B>) {
        self.apply_to_headers(response.headers_mut());
    }

    fn apply_to_headers(&self, headers: &mut HeaderMap) {
        if let Some(d) = &self.content_digest {
            headers.insert("content-digest", d.clone());
        }
        headers.append("signature-input", self.signature_input.clone());
        headers.append("signature", self.signature.clone());
    }
}

impl Signer {
    /// A signer for `key` with `config`.
    ///
    /// # Errors
    /// [`HttpSigError::InvalidLabel`] when the label is not a structured-field
    /// key, [`HttpSigError::DuplicateComponent`] when a component repeats.
    pub fn new(key: SigningKey, config: SignerConfig) -> Result<Self, HttpSigError> {
        check_label(&config.label)?;
        for (i, c) in config.components.iter().enumerate() {
            if config.components.iter().take(i).any(|o| o.same_as(c)) {
                return Err(HttpSigError::DuplicateComponent {
                    component: c.to_string(),
                });
            }
        }
        let ids: Vec<&str> = config.components.iter().map(Component::id).collect();
        let inner_list = format!("({})", ids.join(" "));
        let covers_digest = config
            .components
            .iter()
            .any(|c| c.name() == "content-digest" && !c.is_req());
        let makes_digest = config.content_digest.filter(|_| covers_digest);
        let string_param = |out: &mut String, name: &str, value: &str| {
            out.push_str(name);
            fields::write_string(out, value).map_err(|e| e.to_string())
        };
        let mut keyid_alg = Ok(String::new());
        if let Ok(out) = &mut keyid_alg {
            let mut written = Ok(());
            if config.include_keyid {
                written = string_param(out, ";keyid=", key.keyid());
            }
            if config.include_alg && written.is_ok() {
                written = string_param(out, ";alg=", key.algorithm().as_str());
            }
            if let Err(e) = written {
                keyid_alg = Err(e);
            }
        }
        let mut tag = String::new();
        let tag = match &config.tag {
            Some(t) => string_param(&mut tag, ";tag=", t).map(|()| tag),
            None => Ok(tag),
        };
        Ok(Self {
            key,
            config,
            inner_list,
            keyid_alg,
            tag,
            makes_digest,
        })
    }

    /// Signs a request. `created` is `now`; `nonce`, when given, is sent as
    /// the `nonce` parameter.
    ///
    /// # Errors
    /// [`HttpSigError::MissingComponent`] when a covered component is not in
    /// the request, [`HttpSigError::NonAsciiField`] for a field that needs
    /// `;bs`, [`HttpSigError::MalformedComponent`] for `;sf`/`;key` fields
    /// that do not parse, [`HttpSigError::Unserialisable`] for a nonce or tag
    /// that is not a printable ASCII string, [`HttpSigError::SigningFailed`]
    /// when an RSA-PSS or ECDSA key finds no system randomness.
    pub fn sign(
        &self,
        request: &http::request::Parts,
        body: &[u8],
        nonce: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<SigningOutput, HttpSigError> {
        let digest = self.digest(body)?;
        let message = Message::Request(RequestView {
            method: &request.method,
            uri: &request.uri,
            headers: &request.headers,
            assumed_scheme: &self.config.assumed_scheme,
            content_digest: digest.as_ref(),
        });
        self.sign_message(&message, digest.clone(), nonce, now)
    }

    /// Signs a response; `request` supplies components marked `;req`.
    ///
    /// # Errors
    /// As for [`Signer::sign`]; a `;req` component without `request` is
    /// [`HttpSigError::MissingComponent`].
    pub fn sign_response(
        &self,
        response: &http::response::Parts,
        body: &[u8],
        request: Option<&http::request::Parts>,
        nonce: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<SigningOutput, HttpSigError> {
        let digest = self.digest(body)?;
        let message = Message::Response {
            status: response.status,
            headers: &response.headers,
            request: request.map(|r| RequestView {
                method: &r.method,
                uri: &r.uri,
                headers: &r.headers,
                assumed_scheme: &self.config.assumed_scheme,
                content_digest: None,
            }),
            content_digest: digest.as_ref(),
        };
        self.sign_message(&message, digest.clone(), nonce, now)
    }

    /// The Content-Digest to set and sign, when content-digest is covered
    /// and the signer is configured to compute it.
    fn digest(&self, body: &[u8]) -> Result<Option<HeaderValue>, HttpSigError> {
        self.makes_digest
            .map(|alg| {
                // From the String: the header value takes the buffer as is.
                HeaderValue::try_from(content_digest(body, &[alg]))
                    .map_err(|_| HttpSigError::Unserialisable("content-digest".into()))
            })
            .transpose()
    }

    fn sign_message(
        &self,
        message: &Message<'_>,
        content_digest: Option<HeaderValue>,
        nonce: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<SigningOutput, HttpSigError> {
        let c = &self.config;
        let created = now.unix_timestamp();
        // Parameters are written straight after the pre-serialised inner
        // list (RFC 9651 §4.1.1.2); only the strings need checking.
        let mut params_line = String::with_capacity(self.inner_list.len() + 96);
        params_line.push_str(&self.inner_list);
        let unserialisable = |e: fields::SfError| HttpSigError::Unserialisable(e.to_string());
        if c.include_created {
            params_line.push_str(";created=");
            fields::write_integer(&mut params_line, created).map_err(unserialisable)?;
        }
        if let Some(after) = c.expires_after {
            let expires = created.saturating_add(after.whole_seconds());
            params_line.push_str(";expires=");
            fields::write_integer(&mut params_line, expires).map_err(unserialisable)?;
        }
        params_line.push_str(fixed(&self.keyid_alg)?);
        if let Some(n) = nonce {
            params_line.push_str(";nonce=");
            fields::write_string(&mut params_line, n).map_err(unserialisable)?;
        }
        params_line.push_str(fixed(&self.tag)?);
        let base = signature_base(&c.components, &params_line, message)?;
        let sig = self.key.sign(base.as_bytes())?;

        let mut input = String::with_capacity(c.label.len() + 1 + params_line.len());
        input.push_str(&c.label);
        input.push('=');
        input.push_str(&params_line);
        let mut signature = String::with_capacity(c.label.len() + 4 + sig.len() * 4 / 3 + 4);
        signature.push_str(&c.label);
        signature.push_str("=:");
        B64.encode_string(sig, &mut signature);
        signature.push(':');
        // `TryFrom<String>` hands the buffer to the header value (no copy).
        let header = |s: String| {
            HeaderValue::try_from(s)
                .map_err(|_| HttpSigError::Unserialisable("header value".to_owned()))
        };
        let mut signature = header(signature)?;
        signature.set_sensitive(true);
        Ok(SigningOutput {
            label: c.label.clone(),
            signature_input: header(input)?,
            signature,
            content_digest,
            signature_base: base,
        })
    }
}

/// A label is a structured-field dictionary key (RFC 9421 §4.1).
pub(crate) fn check_label(label: &str) -> Result<(), HttpSigError> {
    let mut bytes = label.bytes();
    let ok = matches!(bytes.next(), Some(c) if c.is_ascii_lowercase() || c == b'*')
        && bytes.all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'.' | b'*')
        });
    if ok {
        Ok(())
    } else {
        Err(HttpSigError::InvalidLabel {
            label: label.to_owned(),
        })
    }
}

/// A parameter serialised when the signer was made, or why it could not be.
fn fixed(p: &Result<String, String>) -> Result<&str, HttpSigError> {
    p.as_deref()
        .map_err(|e| HttpSigError::Unserialisable(e.to_owned()))
}
