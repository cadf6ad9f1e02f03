//! Verifying HTTP Message Signatures (RFC 9421 §3.2) under a policy: limits,
//! required components, Content-Digest (RFC 9530) whenever there is a body,
//! created/expires windows with skew, max age, `tag`, `alg`/key consistency,
//! key lookup in a [`KeyRing`] and nonce replay checks.

use super::HttpSigError;
use super::base::{Message, RequestView, write_base_lines};
use super::components::{Component, Covered};
use super::digest::{
    CONTENT_DIGEST, DigestAlgorithm, DigestsChecked, check_content_digest,
    check_content_digest_line,
};
use super::fields::{self, Item, Parameters};
use super::keyring::{Algorithm, KeyRing};
use super::replay::ReplayGuard;
use super::sign::check_label;
use crate::time::{display, from_unix};
use http::HeaderMap;
use sfv::visitor::{
    DictionaryVisitor, EntryVisitor, Ignored, InnerListVisitor, ItemVisitor, ParameterVisitor,
};
use sfv::{BareItemFromInput, KeyRef, RefBareItem};
use std::borrow::Cow;
use std::convert::Infallible;
use time::{Duration, OffsetDateTime};

/// Verification policy. The default is strict: `@method`, `@authority` and
/// `@path` must be covered (`@status` for responses), the query too when
/// the request has one, `content-digest` must be covered when there is a
/// body, `created` is required and at most 5 minutes old, 60 s of clock
/// skew.
///
/// A required `@scheme`, `@authority`, `@path` or `@query` is also met by a
/// covered `@target-uri`, which contains them all (RFC 9421 §2.2.2), and a
/// required `@path` or `@query` by a covered `@request-target` (§2.2.5;
/// not for CONNECT, whose request target is the authority).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifierConfig {
    /// Verify only the signature with this label (others are ignored). With
    /// `None`, signatures are tried in Signature-Input order and the first
    /// that passes every check is accepted; the rest are ignored (they may
    /// belong to other parties). Default: `None`.
    pub label: Option<String>,
    /// Components a request signature must cover. Default: `@method`,
    /// `@authority`, `@path`. Each is also met by a covered component that
    /// contains it (see above).
    pub required_components: Vec<Component>,
    /// When the request has a (non-empty) query, require a request
    /// signature to cover it: `@query`, `@target-uri` or `@request-target`.
    /// Default: true. Without it, a captured request replays with any query
    /// (`?amount=1` rewritten to `?amount=1000`). Turn it off only when the
    /// origin ignores the query, or when `@query-param` components cover the
    /// parameters it reads.
    pub require_query: bool,
    /// Components a response signature must cover. Default: `@status`.
    pub required_response_components: Vec<Component>,
    /// Require `content-digest` to be covered when the body is not empty
    /// (the body is then checked against it). Default: true.
    pub require_content_digest: bool,
    /// Require the `created` parameter. Default: true.
    pub require_created: bool,
    /// Require the `expires` parameter. Default: false.
    pub require_expires: bool,
    /// Refuse signatures whose `created` is older than this (plus skew).
    /// Default: 5 minutes.
    pub max_age: Option<Duration>,
    /// Clock-skew allowance for `created` and `expires`. Default: 60 s.
    pub skew: Duration,
    /// Require this exact `tag` parameter. Default: none.
    pub tag: Option<String>,
    /// Require a `nonce` parameter. Default: false.
    pub require_nonce: bool,
    /// Most Signature-Input members looked at. Default: 8.
    pub max_signatures: usize,
    /// Most covered components in one signature. Default: 32.
    pub max_components: usize,
    /// Largest combined Signature-Input or Signature field, in bytes.
    /// Default: 8 KiB.
    pub max_field_bytes: usize,
    /// Scheme assumed when the request URI has none (origin-form, as servers
    /// see it). Default: `https`.
    pub assumed_scheme: String,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        let comps = |names: &[&str]| {
            names
                .iter()
                .filter_map(|n| Component::try_from_name(n).ok())
                .collect()
        };
        Self {
            label: None,
            required_components: comps(&["@method", "@authority", "@path"]),
            require_query: true,
            required_response_components: comps(&["@status"]),
            require_content_digest: true,
            require_created: true,
            require_expires: false,
            max_age: Some(Duration::minutes(5)),
            skew: crate::time::DEFAULT_LEEWAY,
            tag: None,
            require_nonce: false,
            max_signatures: 8,
            max_components: 32,
            max_field_bytes: 8 * 1024,
            assumed_scheme: "https".to_owned(),
        }
    }
}

/// A signature that verified: which label and key, and its parameters.
///
/// Its strings ([`FieldText`]) borrow from the message's Signature-Input
/// field, so verifying copies nothing out of the request;
/// [`Verified::into_owned`] detaches the result. The covered components,
/// `created` / `expires` and the digests checked are methods: they are
/// kept in a cheaper form and converted when asked for.
///
/// ```
/// # use edge_auth::Secret;
/// # use edge_auth::httpsig::{DigestAlgorithm, KeyRing, Signer, SignerConfig, SigningKey, Verifier, VerifyingKey};
/// # let secret = Secret::new(vec![42u8; 32]);
/// # let signer = Signer::new(SigningKey::try_from_hmac_sha256("k1", &secret)?, SignerConfig::default())?;
/// # let mut keys = KeyRing::new();
/// # keys.insert("k1", VerifyingKey::try_from_hmac_sha256(&secret)?);
/// # let now = time::OffsetDateTime::from_unix_timestamp(1_795_428_000)?;
/// # let (parts, body) = http::Request::post("https://api.example/orders").body(b"{}".to_vec())?.into_parts();
/// # let out = signer.sign(&parts, &body, Some("n-1"), now)?;
/// # let mut request = http::Request::from_parts(parts, body);
/// # out.apply_to(&mut request);
/// let (parts, body) = request.into_parts();
/// let verified = Verifier::default().verify(&parts, &body, &keys, None, now)?;
/// assert_eq!((verified.label.as_str(), verified.keyid.as_str()), ("sig1", "k1"));
/// assert_eq!(verified.nonce.as_deref(), Some("n-1"));
/// assert_eq!(verified.created(), Some(now));
/// assert_eq!(verified.digests_checked(), [DigestAlgorithm::Sha256]);
/// let names: Vec<&str> = verified.components().map(|c| c.name()).collect();
/// assert_eq!(names, ["@method", "@authority", "@path", "@query", "content-digest"]);
/// // Detached from the request, e.g. to keep it in request extensions:
/// let kept: edge_auth::httpsig::Verified<'static> = verified.into_owned();
/// drop(parts);
/// assert_eq!(kept.keyid, "k1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Verified<'a> {
    /// The label of the accepted signature.
    pub label: FieldText<'a>,
    /// The `keyid` of the key that verified it.
    pub keyid: FieldText<'a>,
    /// The key's algorithm.
    pub algorithm: Algorithm,
    components: Vec<Covered>,
    /// Unix seconds, checked to be in `OffsetDateTime`'s range (converted on
    /// demand: the calendar arithmetic is not free and rarely needed).
    created: Option<i64>,
    expires: Option<i64>,
    /// `nonce`, when present.
    pub nonce: Option<FieldText<'a>>,
    /// `tag`, when present.
    pub tag: Option<FieldText<'a>>,
    digests_checked: DigestsChecked,
}

/// Text taken from the verified message's Signature-Input field: borrowed
/// from the message when the field is one line (the usual case), owned when
/// several lines had to be combined. Reads like a `&str`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldText<'a>(Cow<'a, str>);

impl FieldText<'_> {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same text, owned.
    pub fn into_owned(self) -> FieldText<'static> {
        FieldText(Cow::Owned(self.0.into_owned()))
    }
}

impl std::ops::Deref for FieldText<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for FieldText<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for FieldText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for FieldText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for FieldText<'_> {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for FieldText<'_> {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for FieldText<'_> {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl Verified<'_> {
    /// The covered components, in order.
    pub fn components(&self) -> impl ExactSizeIterator<Item = &Component> + '_ {
        self.components.iter().map(|c| &**c)
    }

    /// `created`, when present.
    pub fn created(&self) -> Option<OffsetDateTime> {
        self.created.and_then(from_unix)
    }

    /// `expires`, when present.
    pub fn expires(&self) -> Option<OffsetDateTime> {
        self.expires.and_then(from_unix)
    }

    /// Content-Digest algorithms checked against the body, in field order
    /// (empty when `content-digest` was not covered).
    pub fn digests_checked(&self) -> &[DigestAlgorithm] {
        self.digests_checked.as_slice()
    }

    /// The same result owning its strings, no longer tied to the request.
    pub fn into_owned(self) -> Verified<'static> {
        let own = FieldText::into_owned;
        Verified {
            label: own(self.label),
            keyid: own(self.keyid),
            algorithm: self.algorithm,
            components: self.components,
            created: self.created,
            expires: self.expires,
            nonce: self.nonce.map(own),
            tag: self.tag.map(own),
            digests_checked: self.digests_checked,
        }
    }
}

/// Whether covering `covered` covers the required component `required`:
/// the same component, or one that contains it (RFC 9421 §2.2.2
/// `@target-uri`: scheme, authority, path and query; §2.2.5
/// `@request-target`: path and query, except for CONNECT). Parameters
/// (`req`) must agree.
fn covers(covered: &Component, required: &Component, connect: bool) -> bool {
    if covered.same_as(required) {
        return true;
    }
    let inside = match covered.name() {
        "@target-uri" => ["@scheme", "@authority", "@path", "@query"].as_slice(),
        "@request-target" if !connect => ["@path", "@query"].as_slice(),
        _ => return false,
    };
    inside.contains(&required.name())
        && covered.params.len() == required.params.len()
        && covered.params.iter().all(|p| required.params.contains(p))
}

/// Verifies signatures against a [`KeyRing`] under a [`VerifierConfig`].
#[derive(Debug, Clone, Default)]
pub struct Verifier {
    config: VerifierConfig,
}

/// The registered signature parameters (RFC 9421 §2.3), borrowed from the
/// field text where they need no unescaping.
struct Params<'a> {
    created: Option<i64>,
    expires: Option<i64>,
    nonce: Option<Cow<'a, str>>,
    alg: Option<Cow<'a, str>>,
    keyid: Option<Cow<'a, str>>,
    tag: Option<Cow<'a, str>>,
}

impl Verifier {
    /// A verifier with `config`.
    ///
    /// # Errors
    /// [`HttpSigError::InvalidLabel`] when a configured label is not a
    /// structured-field key.
    pub fn new(config: VerifierConfig) -> Result<Self, HttpSigError> {
        if let Some(l) = &config.label {
            check_label(l)?;
        }
        Ok(Self { config })
    }

    /// Verifies a request. A `replay` guard, when given, sees the nonce of the
    /// accepted signature after it has verified.
    ///
    /// # Errors
    /// The first reason the (configured or first) signature was refused: a
    /// missing or malformed field, a limit, a policy failure, a time window,
    /// an unknown or retired key, a bad signature, a Content-Digest mismatch
    /// or a replayed nonce; see [`HttpSigError`].
    pub fn verify<'r>(
        &self,
        request: &'r http::request::Parts,
        body: &[u8],
        keys: &KeyRing,
        replay: Option<&mut dyn ReplayGuard>,
        now: OffsetDateTime,
    ) -> Result<Verified<'r>, HttpSigError> {
        let message = Message::Request(self.view(request));
        self.verify_message(&message, &request.headers, body, keys, replay, now)
    }

    /// Verifies a response; `request` supplies components marked `;req`.
    ///
    /// # Errors
    /// As for [`Verifier::verify`].
    pub fn verify_response<'r>(
        &self,
        response: &'r http::response::Parts,
        body: &[u8],
        request: Option<&http::request::Parts>,
        keys: &KeyRing,
        replay: Option<&mut dyn ReplayGuard>,
        now: OffsetDateTime,
    ) -> Result<Verified<'r>, HttpSigError> {
        let message = Message::Response {
            status: response.status,
            headers: &response.headers,
            request: request.map(|r| self.view(r)),
            content_digest: None,
        };
        self.verify_message(&message, &response.headers, body, keys, replay, now)
    }

    fn view<'a>(&'a self, r: &'a http::request::Parts) -> RequestView<'a> {
        RequestView {
            method: &r.method,
            uri: &r.uri,
            headers: &r.headers,
            assumed_scheme: &self.config.assumed_scheme,
            content_digest: None,
        }
    }

    /// `headers` are the message's own (their lifetime is the result's).
    fn verify_message<'h>(
        &self,
        message: &Message<'_>,
        headers: &'h HeaderMap,
        body: &[u8],
        keys: &KeyRing,
        replay: Option<&mut dyn ReplayGuard>,
        now: OffsetDateTime,
    ) -> Result<Verified<'h>, HttpSigError> {
        // Both fields are parsed in place: members borrow from the header
        // text, and so does the result when each field is one line.
        let inputs_text = self
            .field_text(headers, "signature-input")?
            .ok_or(HttpSigError::MissingSignatureInput)?;
        // A missing Signature is reported per label by `verify_one`.
        let signatures_text = self.field_text(headers, "signature")?;
        match (inputs_text, signatures_text) {
            (Cow::Borrowed(inputs), None) => {
                self.verify_fields(message, body, keys, replay, now, inputs, None)
            }
            (Cow::Borrowed(inputs), Some(Cow::Borrowed(signatures))) => {
                self.verify_fields(message, body, keys, replay, now, inputs, Some(signatures))
            }
            // Combined from several field lines: the text is ours, so the
            // result must own its strings.
            (inputs, signatures) => self
                .verify_fields(
                    message,
                    body,
                    keys,
                    replay,
                    now,
                    &inputs,
                    signatures.as_deref(),
                )
                .map(Verified::into_owned),
        }
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "internal step with the verify inputs"
    )]
    fn verify_fields<'t>(
        &self,
        message: &Message<'_>,
        body: &[u8],
        keys: &KeyRing,
        replay: Option<&mut dyn ReplayGuard>,
        now: OffsetDateTime,
        inputs_text: &'t str,
        signatures_text: Option<&'t str>,
    ) -> Result<Verified<'t>, HttpSigError> {
        // sfv parses both fields; its visitors read each Signature-Input
        // member's components and parameters as the field is validated, and
        // each Signature member's bytes.
        let wanted = self.config.label.as_deref();
        let mut inputs = Inputs {
            members: Vec::with_capacity(2),
            max_components: self.config.max_components,
        };
        sfv::Parser::new(inputs_text)
            .parse_dictionary_with_visitor(&mut inputs)
            .map_err(|e| malformed_field("signature-input", &e))?;
        let inputs = inputs.members;
        // The usual Signature field, one member in canonical form, is read
        // without parsing (see `canonical_signature`); anything else by sfv.
        let mut inline = [0u8; INLINE_SIGNATURE];
        let signatures = match signatures_text.map(|text| {
            let labels = inputs.iter().map(|m| m.label);
            (text, canonical_signature(text, labels, &mut inline))
        }) {
            None => Signatures::Parsed(Vec::new()),
            Some((_, Some((label, len)))) => {
                Signatures::One(label, inline.get(..len).unwrap_or_default())
            }
            Some((text, None)) => {
                let mut members = fields::ByteMembers::default();
                sfv::Parser::new(text)
                    .parse_dictionary_with_visitor(&mut members)
                    .map_err(|e| malformed_field("signature", &e))?;
                Signatures::Parsed(members.members)
            }
        };
        if inputs.len() > self.config.max_signatures {
            return Err(HttpSigError::TooManySignatures {
                count: inputs.len(),
                max: self.config.max_signatures,
            });
        }
        for (i, m) in inputs.iter().enumerate() {
            if inputs.iter().take(i).any(|o| o.label == m.label) {
                return Err(HttpSigError::DuplicateLabel {
                    label: m.label.to_owned(),
                });
            }
        }
        if let Signatures::Parsed(members) = &signatures {
            for (i, (label, _)) in members.iter().enumerate() {
                if members.iter().take(i).any(|(l, _)| l == label) {
                    return Err(HttpSigError::DuplicateLabel {
                        label: (*label).to_owned(),
                    });
                }
            }
        }
        if let Some(want) = wanted
            && !inputs.iter().any(|m| m.label == want)
        {
            return Err(HttpSigError::LabelNotFound {
                label: want.to_owned(),
            });
        }
        // With one member, the field is `label=` and the member's text (the
        // field lines come trimmed), which `@signature-params` may reuse.
        let single = inputs.len() == 1;
        let mut first_error = None;
        for member in inputs {
            if wanted.is_some_and(|w| w != member.label) {
                continue;
            }
            let received = inputs_text
                .strip_prefix(member.label)
                .and_then(|t| t.strip_prefix('='))
                .filter(|_| single);
            match self.verify_one(message, body, keys, member, received, &signatures, now) {
                Ok(verified) => {
                    if let (Some(guard), Some(nonce)) = (replay, verified.nonce.as_deref()) {
                        let until = self.replay_until(&verified)?;
                        guard.check_and_remember(&verified.keyid, nonce, until, now)?;
                    }
                    return Ok(verified);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or(HttpSigError::MissingSignatureInput))
    }

    /// The last moment the signature `v` could still be accepted: a replay
    /// guard must remember its nonce until then. For a guard the verifier
    /// cannot call (an async one, shared by replicas): verify without a
    /// guard, then give the guard `v.keyid`, `v.nonce` and this.
    ///
    /// # Errors
    /// [`HttpSigError::ReplayUnbounded`] when the signature has neither
    /// `expires` nor a `created` with a configured max age.
    pub fn replay_until(&self, v: &Verified<'_>) -> Result<OffsetDateTime, HttpSigError> {
        let skew = self.config.skew;
        let by_expires = v.expires().map(|e| later(e, skew));
        let by_age = match (v.created(), self.config.max_age) {
            (Some(c), Some(age)) => Some(later(later(c, age), skew)),
            _ => None,
        };
        match (by_expires, by_age) {
            (Some(a), Some(b)) => Ok(a.min(b)),
            (Some(a), None) | (None, Some(a)) => Ok(a),
            (None, None) => Err(HttpSigError::ReplayUnbounded),
        }
    }

    /// The field lines of `field` combined (borrowed when there is one line),
    /// within the size limit.
    fn field_text<'h>(
        &self,
        headers: &'h HeaderMap,
        field: &'static str,
    ) -> Result<Option<Cow<'h, str>>, HttpSigError> {
        let max = self.config.max_field_bytes;
        // Constant names: no header-name parsing per message.
        const SIGNATURE_INPUT: http::HeaderName = http::HeaderName::from_static("signature-input");
        const SIGNATURE: http::HeaderName = http::HeaderName::from_static("signature");
        let name = if field == "signature" {
            &SIGNATURE
        } else {
            &SIGNATURE_INPUT
        };
        match fields::combine_lines(headers, name, max) {
            Ok(text) => Ok(text),
            Err(None) => Err(HttpSigError::MalformedField {
                field,
                reason: "non-ASCII bytes".into(),
            }),
            Err(Some(_)) => Err(HttpSigError::FieldTooLarge { field, max }),
        }
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "internal step with the verify inputs"
    )]
    fn verify_one<'t>(
        &self,
        message: &Message<'_>,
        body: &[u8],
        keys: &KeyRing,
        member: InputMember<'t>,
        received: Option<&str>,
        signatures: &Signatures<'_, '_>,
        now: OffsetDateTime,
    ) -> Result<Verified<'t>, HttpSigError> {
        let c = &self.config;
        let label = member.label;
        let malformed = |reason: &str| HttpSigError::MalformedSignatureInput {
            label: label.to_owned(),
            reason: reason.to_owned(),
        };
        let Some(list) = member.list else {
            return Err(malformed("member is not an inner list"));
        };
        if list.count > c.max_components {
            return Err(HttpSigError::TooManyComponents {
                count: list.count,
                max: c.max_components,
            });
        }
        if let Some(e) = list.error {
            return Err(e);
        }
        let components = list.components;
        // Every item was read; a different count would mean a component was
        // dropped, so never accept that.
        if components.len() != list.count {
            return Err(malformed("inner list could not be read back"));
        }
        for (i, comp) in components.iter().enumerate() {
            if components.iter().take(i).any(|o| o.same_as(comp)) {
                return Err(HttpSigError::DuplicateComponent {
                    component: comp.to_string(),
                });
            }
        }
        let params = Params::read(&list.params).map_err(|r| malformed(&r))?;
        let signature = match signatures.get(label) {
            None => {
                return Err(HttpSigError::MissingSignature {
                    label: label.to_owned(),
                });
            }
            Some(Some(bytes)) => bytes,
            Some(None) => {
                return Err(HttpSigError::MalformedField {
                    field: "signature",
                    reason: format!("member `{label}` is not a byte sequence"),
                });
            }
        };

        // Policy first: cheap, and never touches a key.
        let is_response = matches!(message, Message::Response { .. });
        let required = if is_response {
            &c.required_response_components
        } else {
            &c.required_components
        };
        let connect = matches!(message, Message::Request(r) if r.method == http::Method::CONNECT);
        for r in required {
            if !components.iter().any(|x| covers(x, r, connect)) {
                return Err(HttpSigError::RequiredComponentMissing {
                    component: r.to_string(),
                });
            }
        }
        if let Message::Request(r) = message
            && c.require_query
            && r.uri.query().is_some_and(|q| !q.is_empty())
            && !components.iter().any(|x| {
                !x.is_req()
                    && (matches!(x.name(), "@query" | "@target-uri")
                        || (x.name() == "@request-target" && !connect))
            })
        {
            return Err(HttpSigError::QueryNotCovered);
        }
        let digest_covered = components
            .iter()
            .any(|x| x.name() == "content-digest" && !x.is_req());
        if c.require_content_digest && !body.is_empty() && !digest_covered {
            return Err(HttpSigError::ContentDigestNotCovered);
        }
        if let Some(want) = &c.tag
            && params.tag.as_deref() != Some(want.as_str())
        {
            return Err(HttpSigError::TagMismatch {
                expected: want.clone(),
                found: params.tag.map(Cow::into_owned),
            });
        }
        if c.require_nonce && params.nonce.is_none() {
            return Err(HttpSigError::MissingParameter { parameter: "nonce" });
        }
        // Once: the calendar arithmetic behind it is not free.
        let now_ns = now.unix_timestamp_nanos();
        let created = self.check_created(&params, now, now_ns, label)?;
        let expires = self.check_expires(&params, now, now_ns, label)?;

        // Key and algorithm.
        let keyid = params
            .keyid
            .ok_or(HttpSigError::MissingParameter { parameter: "keyid" })?;
        let key = keys.active(&keyid)?;
        if let Some(alg) = &params.alg {
            match Algorithm::from_name(alg) {
                None => {
                    return Err(HttpSigError::UnsupportedAlgorithm {
                        alg: alg.clone().into_owned(),
                    });
                }
                Some(a) if a != key.algorithm() => {
                    return Err(HttpSigError::AlgorithmMismatch {
                        alg: alg.clone().into_owned(),
                        key_alg: key.algorithm().as_str(),
                    });
                }
                Some(_) => {}
            }
        }

        // RFC 9421 §2.3 / §3.2 step 6: @signature-params is the canonical
        // serialisation of the parsed inner list, not the received text
        // (which may differ in whitespace, number spelling, repeated
        // parameters or base64 padding): the identifiers as serialised when
        // the components were read, the parameters by sfv's serialiser.
        // Content-Digest is looked up once, for the base and the body check,
        // when it is one line (else both take the general path).
        let digest_line = if digest_covered {
            let mut lines = message.headers().get_all(&CONTENT_DIGEST).iter();
            match (lines.next(), lines.next()) {
                (Some(line), None) => Some(line),
                _ => None,
            }
        } else {
            None
        };
        let with_digest;
        let message = match digest_line {
            Some(line) => {
                with_digest = message.with_content_digest(line);
                &with_digest
            }
            None => message,
        };
        let mut base = String::with_capacity(256 + 48 * components.len());
        write_base_lines(&components, message, &mut base)?;
        write_signature_params(&mut base, &components, &list.params, received);
        if !key.verify(base.as_bytes(), signature) {
            return Err(HttpSigError::BadSignature {
                label: label.to_owned(),
            });
        }
        // A covered Content-Digest is only worth something if the body
        // matches it, so the check is not left to the caller.
        let digests_checked = match (digest_covered, digest_line) {
            (true, Some(line)) => check_content_digest_line(line, body)?,
            (true, None) => check_content_digest(message.headers(), body)?,
            (false, _) => DigestsChecked::NONE,
        };
        Ok(Verified {
            label: FieldText(Cow::Borrowed(label)),
            keyid: FieldText(keyid),
            algorithm: key.algorithm(),
            components,
            created,
            expires,
            nonce: params.nonce.map(FieldText),
            tag: params.tag.map(FieldText),
            digests_checked,
        })
    }

    fn check_created(
        &self,
        p: &Params<'_>,
        now: OffsetDateTime,
        now_ns: i128,
        label: &str,
    ) -> Result<Option<i64>, HttpSigError> {
        let Some(secs) = p.created else {
            return if self.config.require_created {
                Err(HttpSigError::MissingParameter {
                    parameter: "created",
                })
            } else {
                Ok(None)
            };
        };
        if !(MIN_UNIX..=MAX_UNIX).contains(&secs) {
            return Err(HttpSigError::MalformedSignatureInput {
                label: label.to_owned(),
                reason: format!("`created` {secs} is out of range"),
            });
        }
        // Only an error message needs the calendar form.
        let created = || from_unix(secs).map_or_else(|| secs.to_string(), display);
        let skew = self.config.skew;
        // Compared as integer nanoseconds: exact, cannot overflow an i128,
        // and much cheaper than calendar arithmetic on every request.
        let created_ns = i128::from(secs) * NANOS;
        if created_ns > now_ns + skew.whole_nanoseconds() {
            return Err(HttpSigError::CreatedInFuture {
                created: created(),
                now: display(now),
                skew_secs: skew.whole_seconds(),
            });
        }
        if let Some(max_age) = self.config.max_age
            && now_ns > created_ns + max_age.whole_nanoseconds() + skew.whole_nanoseconds()
        {
            return Err(HttpSigError::TooOld {
                created: created(),
                now: display(now),
                max_age_secs: max_age.whole_seconds(),
                skew_secs: skew.whole_seconds(),
            });
        }
        Ok(Some(secs))
    }

    fn check_expires(
        &self,
        p: &Params<'_>,
        now: OffsetDateTime,
        now_ns: i128,
        label: &str,
    ) -> Result<Option<i64>, HttpSigError> {
        let Some(secs) = p.expires else {
            return if self.config.require_expires {
                Err(HttpSigError::MissingParameter {
                    parameter: "expires",
                })
            } else {
                Ok(None)
            };
        };
        if !(MIN_UNIX..=MAX_UNIX).contains(&secs) {
            return Err(HttpSigError::MalformedSignatureInput {
                label: label.to_owned(),
                reason: format!("`expires` {secs} is out of range"),
            });
        }
        let expires = || from_unix(secs).map_or_else(|| secs.to_string(), display);
        let skew = self.config.skew;
        if now_ns > i128::from(secs) * NANOS + skew.whole_nanoseconds() {
            return Err(HttpSigError::Expired {
                expires: expires(),
                now: display(now),
                skew_secs: skew.whole_seconds(),
            });
        }
        Ok(Some(secs))
    }
}

/// The Signature field's members (RFC 9421 §4.2).
enum Signatures<'t, 'b> {
    /// The field is one member in canonical form ([`canonical_signature`]):
    /// its label and its bytes.
    One(&'t str, &'b [u8]),
    /// Parsed by sfv: each key, repeats kept, with its bytes (`None` when
    /// the value is not a byte sequence).
    Parsed(Vec<(&'t str, Option<Vec<u8>>)>),
}

impl Signatures<'_, '_> {
    /// The member `label`: `None` when absent, `Some(None)` when it is not
    /// a byte sequence. The first one when repeated (refused anyway).
    fn get(&self, label: &str) -> Option<Option<&[u8]>> {
        match self {
            Self::One(l, bytes) => (*l == label).then_some(Some(*bytes)),
            Self::Parsed(members) => members
                .iter()
                .find(|(l, _)| *l == label)
                .map(|(_, bytes)| bytes.as_deref()),
        }
    }
}

/// Signatures up to this size are decoded on the stack (RSA 4096 gives 512
/// bytes; the base64 engine wants room for its estimate); larger ones take
/// sfv's path.
const INLINE_SIGNATURE: usize = 516;

/// The Signature field when it is exactly `LABEL=:B64:`, LABEL one of the
/// Signature-Input labels (sf-keys, validated by sfv) and B64 the padded
/// base64 of some bytes with no stray bits: the canonical serialisation
/// (RFC 9651 §4.1.2, §4.1.8) of the one-member dictionary, which sfv reads
/// as that label and those bytes. The base64 crate's strict engine decodes
/// only that canonical form (any other spelling fails), into `buf`. Returns
/// the label and the byte count; `None` for anything else (other
/// spellings, several members, parameters, a larger signature), which sfv
/// parses.
fn canonical_signature<'t>(
    text: &'t str,
    mut labels: impl Iterator<Item = &'t str>,
    buf: &mut [u8],
) -> Option<(&'t str, usize)> {
    use base64::Engine as _;
    let (label, value) = text.split_once('=')?;
    let b64 = value.strip_prefix(':')?.strip_suffix(':')?;
    if !labels.any(|l| l == label) {
        return None;
    }
    let len = base64::engine::general_purpose::STANDARD
        .decode_slice(b64, buf)
        .ok()?;
    Some((label, len))
}

/// Writes the value of `@signature-params` (RFC 9421 §2.3): the inner list
/// of covered identifiers (each serialised once, when it was read) and the
/// signature parameters, in canonical form (RFC 9651 §4.1.1), by sfv's
/// serialiser. `received` is the member's text when the field had that one
/// member: it is copied instead when it is provably the canonical form
/// already (see [`canonical_len`]), as it is from any RFC 9421 signer.
fn write_signature_params(
    out: &mut String,
    components: &[Covered],
    params: &[(&KeyRef, BareItemFromInput<'_>)],
    received: Option<&str>,
) {
    if let Some(text) = received
        && canonical_len(components, params) == Some(text.len())
    {
        out.push_str(text);
        return;
    }
    out.push('(');
    for (i, comp) in components.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(comp.id());
    }
    out.push(')');
    fields::write_sfv_parameters(out, params.iter().map(|(k, v)| (*k, RefBareItem::from(v))));
}

/// The length of the canonical serialisation of the inner list, when every
/// parameter value is of a type whose canonical form is strictly shorter
/// than any other spelling of the same value (booleans, integers, strings,
/// tokens; so are the list's spaces and a repeated key's collapse). Then a
/// received text of that length *is* the canonical form. `None` for
/// decimals, byte sequences, dates and display strings, which are always
/// re-serialised.
fn canonical_len(
    components: &[Covered],
    params: &[(&KeyRef, BareItemFromInput<'_>)],
) -> Option<usize> {
    let ids: usize = components.iter().map(|c| c.id().len()).sum();
    let mut n = 2 + ids + components.len().saturating_sub(1);
    for (k, v) in params {
        n += 1 + k.as_str().len();
        n += match v {
            BareItemFromInput::Boolean(true) => 0,
            BareItemFromInput::Boolean(false) => 3,
            BareItemFromInput::Integer(i) => 1 + integer_len(i64::from(*i)),
            BareItemFromInput::String(s) => {
                let s = s.as_str();
                3 + s.len() + s.bytes().filter(|b| matches!(b, b'"' | b'\\')).count()
            }
            BareItemFromInput::Token(t) => 1 + t.as_str().len(),
            _ => return None,
        };
    }
    Some(n)
}

/// Characters in the canonical form of `i` (sign included).
fn integer_len(i: i64) -> usize {
    let digits = i
        .unsigned_abs()
        .checked_ilog10()
        .map_or(1, |l| l as usize + 1);
    usize::from(i < 0) + digits
}

fn malformed_field(field: &'static str, e: &sfv::Error) -> HttpSigError {
    HttpSigError::MalformedField {
        field,
        reason: e.to_string(),
    }
}

const NANOS: i128 = 1_000_000_000;

/// The Unix seconds `OffsetDateTime` can represent (as `from_unix` accepts).
const MIN_UNIX: i64 =
    OffsetDateTime::new_utc(time::Date::MIN, time::Time::MIDNIGHT).unix_timestamp();
const MAX_UNIX: i64 = OffsetDateTime::new_utc(time::Date::MAX, time::Time::MAX).unix_timestamp();

/// `t + d`, saturating at the end of the representable range so that a huge
/// configured window cannot overflow (and panic).
fn later(t: OffsetDateTime, d: Duration) -> OffsetDateTime {
    t.checked_add(d).unwrap_or(if d.is_negative() {
        OffsetDateTime::new_utc(time::Date::MIN, time::Time::MIDNIGHT)
    } else {
        OffsetDateTime::new_utc(time::Date::MAX, time::Time::MAX)
    })
}

impl<'a> Params<'a> {
    /// The registered parameters (RFC 9421 §2.3), type-checked.
    fn read(params: &[(&'a KeyRef, BareItemFromInput<'a>)]) -> Result<Self, String> {
        let mut out = Params {
            created: None,
            expires: None,
            nonce: None,
            alg: None,
            keyid: None,
            tag: None,
        };
        let wrong = |k: &KeyRef| format!("parameter `{}` has the wrong type", k.as_str());
        for (k, v) in params {
            let int = |slot: &mut Option<i64>| match v {
                BareItemFromInput::Integer(i) => {
                    *slot = Some(i64::from(*i));
                    Ok(())
                }
                _ => Err(wrong(k)),
            };
            let string = |slot: &mut Option<Cow<'a, str>>| match v {
                BareItemFromInput::String(Cow::Borrowed(s)) => {
                    *slot = Some(Cow::Borrowed(s.as_str()));
                    Ok(())
                }
                BareItemFromInput::String(Cow::Owned(s)) => {
                    *slot = Some(Cow::Owned(s.as_str().to_owned()));
                    Ok(())
                }
                _ => Err(wrong(k)),
            };
            match k.as_str() {
                "created" => int(&mut out.created)?,
                "expires" => int(&mut out.expires)?,
                "nonce" => string(&mut out.nonce)?,
                "alg" => string(&mut out.alg)?,
                "keyid" => string(&mut out.keyid)?,
                "tag" => string(&mut out.tag)?,
                // Unregistered parameters are covered by the signature (they
                // are part of @signature-params) and otherwise ignored.
                _ => {}
            }
        }
        Ok(out)
    }
}

/// The Signature-Input members, read by sfv's visitor while it validates
/// the field (RFC 9651 §4.2.2; repeated keys kept, so duplicate labels can
/// be refused).
struct Inputs<'t> {
    members: Vec<InputMember<'t>>,
    max_components: usize,
}

/// One Signature-Input member.
struct InputMember<'t> {
    label: &'t str,
    /// `None` when the member is not an inner list.
    list: Option<SigInput<'t>>,
}

/// The inner list of a Signature-Input member: its covered components and
/// its parameters (RFC 9421 §4.1).
struct SigInput<'t> {
    /// Items in the list.
    count: usize,
    components: Vec<Covered>,
    /// The first item that is not a valid component identifier; reading
    /// stops there (and past the component limit).
    error: Option<HttpSigError>,
    /// Each key once, at its first position, with its last value
    /// (RFC 9651 §4.2.3.2): the shape they are serialised in (§4.1.1.2).
    params: Vec<(&'t KeyRef, BareItemFromInput<'t>)>,
}

impl<'t> DictionaryVisitor<'t> for &mut Inputs<'t> {
    type Out = ();
    type Error = Infallible;

    fn entry(&mut self, key: &'t KeyRef) -> Result<impl EntryVisitor<'t>, Infallible> {
        self.members.push(InputMember {
            label: key.as_str(),
            list: None,
        });
        let max = self.max_components;
        Ok(self.members.last_mut().map(|m| MemberReader {
            list: &mut m.list,
            max,
        }))
    }

    fn finish(self) -> Result<(), Infallible> {
        Ok(())
    }
}

struct MemberReader<'m, 't> {
    list: &'m mut Option<SigInput<'t>>,
    max: usize,
}

impl<'t> EntryVisitor<'t> for MemberReader<'_, 't> {
    type Error = Infallible;

    fn item(self) -> Result<impl ItemVisitor<'t>, Infallible> {
        // Not an inner list: refused when this signature is tried.
        Ok(Ignored)
    }

    fn inner_list(self) -> Result<impl InnerListVisitor<'t>, Infallible> {
        let list = self.list.insert(SigInput {
            count: 0,
            components: Vec::with_capacity(8),
            error: None,
            params: Vec::with_capacity(4),
        });
        Ok(ListReader {
            list,
            max: self.max,
        })
    }
}

struct ListReader<'m, 't> {
    list: &'m mut SigInput<'t>,
    max: usize,
}

impl<'t> InnerListVisitor<'t> for ListReader<'_, 't> {
    type Error = Infallible;

    fn item(&mut self) -> Result<impl ItemVisitor<'t>, Infallible> {
        Ok(ComponentReader {
            list: &mut *self.list,
            max: self.max,
        })
    }

    fn finish(self) -> Result<impl ParameterVisitor<'t>, Infallible> {
        Ok(SigParamsReader(&mut self.list.params))
    }
}

struct ComponentReader<'m, 't> {
    list: &'m mut SigInput<'t>,
    max: usize,
}

impl<'t> ItemVisitor<'t> for ComponentReader<'_, 't> {
    type Out = ();
    type Error = Infallible;

    fn bare_item(
        self,
        bare: BareItemFromInput<'t>,
    ) -> Result<impl ParameterVisitor<'t, Out = ()>, Infallible> {
        Ok(ComponentParams {
            list: self.list,
            max: self.max,
            bare,
            params: Vec::new(),
        })
    }
}

/// A component identifier's parameters (RFC 9421 §2.1, §2.2); the
/// component is built when they are complete.
struct ComponentParams<'m, 't> {
    list: &'m mut SigInput<'t>,
    max: usize,
    bare: BareItemFromInput<'t>,
    params: Parameters,
}

impl<'t> ParameterVisitor<'t> for ComponentParams<'_, 't> {
    type Out = ();
    type Error = Infallible;

    fn parameter(&mut self, key: &'t KeyRef, v: BareItemFromInput<'t>) -> Result<(), Infallible> {
        fields::insert_overwrite(&mut self.params, key.as_str().to_owned(), v.into());
        Ok(())
    }

    fn finish(self) -> Result<(), Infallible> {
        let list = self.list;
        list.count += 1;
        // Past the limit the signature is refused by count: stop reading.
        if list.error.is_some() || list.components.len() > self.max {
            return Ok(());
        }
        // The usual item: a well-known name without parameters.
        if let BareItemFromInput::String(name) = &self.bare
            && self.params.is_empty()
            && let Some(c) = Covered::common(name.as_str())
        {
            list.components.push(c);
            return Ok(());
        }
        read_component(list, self.bare, self.params);
        Ok(())
    }
}

/// Any other component identifier, read onto the heap (or its error kept).
#[inline(never)]
fn read_component(list: &mut SigInput<'_>, bare: BareItemFromInput<'_>, params: Parameters) {
    let read = match bare {
        BareItemFromInput::String(name) => Covered::try_from_parts(name.as_str(), params),
        other => Component::try_from_item(&Item {
            bare: other.into(),
            params,
        })
        .map(|c| Covered::Parsed(Box::new(c))),
    };
    match read {
        Ok(c) => list.components.push(c),
        Err(e) => list.error = Some(e),
    }
}

struct SigParamsReader<'m, 't>(&'m mut Vec<(&'t KeyRef, BareItemFromInput<'t>)>);

impl<'t> ParameterVisitor<'t> for SigParamsReader<'_, 't> {
    type Out = ();
    type Error = Infallible;

    fn parameter(&mut self, key: &'t KeyRef, v: BareItemFromInput<'t>) -> Result<(), Infallible> {
        fields::insert_overwrite(self.0, key, v);
        Ok(())
    }

    fn finish(self) -> Result<(), Infallible> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_range_matches_from_unix() {
        assert!(from_unix(MIN_UNIX).is_some());
        assert!(from_unix(MAX_UNIX).is_some());
        assert!(from_unix(MIN_UNIX - 1).is_none());
        assert!(from_unix(MAX_UNIX + 1).is_none());
    }

    fn read(text: &str, max: usize) -> Vec<InputMember<'_>> {
        let mut inputs = Inputs {
            members: Vec::new(),
            max_components: max,
        };
        sfv::Parser::new(text)
            .parse_dictionary_with_visitor(&mut inputs)
            .unwrap();
        inputs.members
    }

    /// `@signature-params` as the verifier writes it: the canonical
    /// serialisation of the owned model of the same member.
    fn written(text: &str) -> Option<String> {
        let members = read(text, 32);
        let member = members.into_iter().next()?;
        let received = text.strip_prefix(member.label)?.strip_prefix('=');
        let list = member.list?;
        if list.error.is_some() {
            return None;
        }
        Params::read(&list.params).ok()?;
        let mut out = String::new();
        write_signature_params(&mut out, &list.components, &list.params, None);
        // The received text, copied when it is canonical, gives the same.
        let mut copied = String::new();
        write_signature_params(&mut copied, &list.components, &list.params, received);
        assert_eq!(copied, out, "{text}");
        Some(out)
    }

    fn canonical(text: &str) -> String {
        let dict = fields::parse_dictionary(text).unwrap();
        let Some((_, fields::Entry::InnerList(items, params))) = dict.first() else {
            panic!("{text}")
        };
        fields::serialize_inner_list(items, params).unwrap()
    }

    #[test]
    fn repeated_and_many_parameters_collapse() {
        let text = r#"k=("a");created=1;a=1;b=2;a=3;c;d;e;f;g;h;i"#;
        assert_eq!(
            written(text).unwrap(),
            r#"("a");created=1;a=3;b=2;c;d;e;f;g;h;i"#
        );
        let members = read(text, 32);
        let params = Params::read(&members[0].list.as_ref().unwrap().params).unwrap();
        assert_eq!(params.created, Some(1));
    }

    #[test]
    fn non_canonical_parameters_are_reserialised() {
        for (text, want) in [
            (r#"k=("a");created=0012;b"#, r#"("a");created=12;b"#),
            (r#"k=("a");created=-0"#, r#"("a");created=0"#),
            (r#"k=("a"); created=5;t=tok"#, r#"("a");created=5;t=tok"#),
            (r#"k=("a");x=?1;y=?0"#, r#"("a");x;y=?0"#),
            (r#"k=("a");d=1.50"#, r#"("a");d=1.5"#),
            (r#"k=("a");b=:aGVsbG8:"#, r#"("a");b=:aGVsbG8=:"#),
            (
                r#"k=("a");n=-12;s="a\"b";t=*x/y"#,
                r#"("a");n=-12;s="a\"b";t=*x/y"#,
            ),
            (r#"k=(  "@method"   "date" )"#, r#"("@method" "date")"#),
            (r#"k=("date";req;req)"#, r#"("date";req)"#),
            (r#"k=("date";req=?1)"#, r#"("date";req)"#),
            (r#"k=("date"; req)"#, r#"("date";req)"#),
            (r#"k=()"#, r#"()"#),
        ] {
            assert_eq!(written(text).unwrap(), want, "{text}");
            assert_eq!(canonical(text), want, "{text}");
        }
    }

    #[test]
    fn members_are_read_with_their_errors() {
        let members = read(
            r#"a=?1, sig1=("@method");alg="x", b=("date"), c=("@nope")"#,
            4,
        );
        assert_eq!(members.len(), 4);
        assert!(members[0].list.is_none());
        let sig1 = members[1].list.as_ref().unwrap();
        assert_eq!((sig1.count, sig1.components.len()), (1, 1));
        let c = members[3].list.as_ref().unwrap();
        assert!(c.error.is_some());
        // Past the limit reading stops, counting goes on.
        let many = read(r#"a=("a" "b" "c" "d" "e" "f" "g" "h" "i" "j")"#, 4);
        let list = many[0].list.as_ref().unwrap();
        assert_eq!((list.count, list.components.len()), (10, 5));
        // Repeated labels are kept for the duplicate check.
        assert_eq!(read(r#"a=("a"), a=("b")"#, 4).len(), 2);
        // A non-string identifier is named in its canonical form.
        let bad = read(r#"a=(1;x=?1)"#, 4);
        let err = bad[0].list.as_ref().unwrap().error.as_ref().unwrap();
        assert!(err.to_string().contains("`1;x`"), "{err}");
    }

    #[test]
    fn integer_lengths() {
        for i in [
            0i64,
            1,
            9,
            10,
            99,
            100,
            -1,
            -10,
            999_999_999_999_999,
            -999_999_999_999_999,
        ] {
            assert_eq!(integer_len(i), i.to_string().len(), "{i}");
        }
    }

    /// sfv's reading of a Signature field: its members with their bytes.
    fn sfv_signatures(text: &str) -> Option<Vec<(String, Option<Vec<u8>>)>> {
        let mut members = fields::ByteMembers::default();
        sfv::Parser::new(text)
            .parse_dictionary_with_visitor(&mut members)
            .ok()?;
        Some(
            members
                .members
                .into_iter()
                .map(|(l, b)| (l.to_owned(), b))
                .collect(),
        )
    }

    fn shortcut(text: &str, labels: &[&'static str]) -> Option<(String, Vec<u8>)> {
        let mut buf = [0u8; INLINE_SIGNATURE];
        let (label, len) = canonical_signature(text, labels.iter().copied(), &mut buf)?;
        Some((label.to_owned(), buf[..len].to_vec()))
    }

    #[test]
    fn canonical_signature_field_reads_as_sfv_does() {
        let text = "sig1=:dGVzdA==:";
        let (label, bytes) = shortcut(text, &["sig1"]).unwrap();
        assert_eq!((label.as_str(), bytes.as_slice()), ("sig1", &b"test"[..]));
        assert_eq!(
            sfv_signatures(text).unwrap(),
            [("sig1".to_owned(), Some(b"test".to_vec()))]
        );
        assert_eq!(shortcut("sig1=::", &["sig1"]).unwrap().1, b"");
        // Other spellings sfv accepts, other shapes and other labels are
        // left to sfv.
        for other in [
            "sig1=:dGVzdA:",
            "sig1=:dGVzdB==:",
            "sig1=:dGVzdA==:;p",
            "sig1=:dGVzdA==:, sig2=:dGVzdA==:",
            "sig1=:dGVzdA==: ",
            " sig1=:dGVzdA==:",
            "sig2=:dGVzdA==:",
            "sig1=(:dGVzdA==:)",
            "sig1=:dGVz dA==:",
        ] {
            assert_eq!(shortcut(other, &["sig1"]), None, "{other}");
        }
        // A larger signature than the stack buffer takes sfv's path.
        let big = format!(
            "sig1=:{}:",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                [7u8; INLINE_SIGNATURE + 1]
            )
        );
        assert_eq!(shortcut(&big, &["sig1"]), None);
    }

    proptest::proptest! {
        // Random (often non-canonical) parameter spellings: what the verifier
        // writes into @signature-params must be the owned model's canonical
        // serialisation.
        #[test]
        fn signature_params_are_canonical(
            items in r#"( {0,2}"(a|date|@method)"(;req|; req|;req=\?1|;key="x"|;bs)?){0,3} {0,2}"#,
            params in r#"(; ?([a-c*][a-c0-9]?|created|tag)(=(-?[0-9]{1,4}(\.[0-9]{1,3})?|"[a-z\\\\"]{0,3}"|\?[01]|:[A-Za-z0-9+/]{0,6}={0,2}:|[a-z*][a-z/:]{0,3}|@-?[0-9]{1,3}|%"[a-z%0-9]{0,4}"))?){0,10}"#
        ) {
            let input = format!("k=({items}){params}");
            proptest::prop_assume!(fields::parse_dictionary(&input).is_ok());
            // Registered names with the wrong type are refused, not written.
            if let Some(got) = written(&input) {
                proptest::prop_assert_eq!(got, canonical(&input));
            }
        }
    }

    proptest::proptest! {
        // Whatever the shortcut accepts, sfv reads as the same one member.
        #[test]
        fn canonical_signature_agrees_with_sfv(
            text in r#"(sig1|sig2|a)=(:[A-Za-z0-9+/]{0,12}={0,2}:)(;x|, b=:AA==:| )?"#
        ) {
            if let Some((label, bytes)) = shortcut(&text, &["sig1", "a"]) {
                proptest::prop_assert_eq!(sfv_signatures(&text), Some(vec![(label, Some(bytes))]));
            }
        }
    }
}
