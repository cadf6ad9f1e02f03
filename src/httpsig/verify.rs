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
use super::fields::{self, BareRef, EntryRef, ItemRef, MemberScan, NoScan, ParamsRef};
use super::keyring::{Algorithm, KeyRing};
use super::replay::ReplayGuard;
use super::sign::check_label;
use crate::time::{display, from_unix};
use http::HeaderMap;
use std::borrow::Cow;
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
        // Both member lists share one allocation.
        let mut members = Vec::with_capacity(4);
        let wanted = self.config.label.as_deref();
        // The signature tried first is read while the field is validated.
        let mut capture = Capture {
            wanted,
            max_components: self.config.max_components,
            label: None,
            components: Vec::new(),
            error: None,
            params: ParamScan::new(),
        };
        parse_field(inputs_text, "signature-input", &mut members, &mut capture)?;
        let input_count = members.len();
        if let Some(text) = signatures_text {
            // Usually one `label=:base64:` member: taken without the parser.
            match fields::single_byte_sequence_member(text) {
                Some(member) => members.push(member),
                None => parse_field(text, "signature", &mut members, &mut NoScan)?,
            }
        }
        let (inputs, signatures) = members.split_at(input_count);
        if inputs.len() > self.config.max_signatures {
            return Err(HttpSigError::TooManySignatures {
                count: inputs.len(),
                max: self.config.max_signatures,
            });
        }
        for dict in [inputs, signatures] {
            for (i, (label, _)) in dict.iter().enumerate() {
                if dict.iter().take(i).any(|(l, _)| l == label) {
                    return Err(HttpSigError::DuplicateLabel {
                        label: (*label).to_owned(),
                    });
                }
            }
        }
        if let Some(want) = wanted
            && !inputs.iter().any(|(l, _)| *l == want)
        {
            return Err(HttpSigError::LabelNotFound {
                label: want.to_owned(),
            });
        }
        let mut first_error = None;
        for (label, entry) in inputs {
            if wanted.is_some_and(|w| w != *label) {
                continue;
            }
            // The captured member is this very key (same text, same place).
            let captured = capture
                .label
                .is_some_and(|l| std::ptr::eq(l, *label))
                .then_some(&mut capture);
            match self.verify_one(
                message, body, keys, label, *entry, signatures, now, captured,
            ) {
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
        label: &'t str,
        entry: EntryRef<'t>,
        signatures: &[(&str, EntryRef<'_>)],
        now: OffsetDateTime,
        captured: Option<&mut Capture<'_, 't>>,
    ) -> Result<Verified<'t>, HttpSigError> {
        let c = &self.config;
        let malformed = |reason: &str| HttpSigError::MalformedSignatureInput {
            label: label.to_owned(),
            reason: reason.to_owned(),
        };
        let EntryRef::InnerList(list) = entry else {
            return Err(malformed("member is not an inner list"));
        };
        if list.len() > c.max_components {
            return Err(HttpSigError::TooManyComponents {
                count: list.len(),
                max: c.max_components,
            });
        }
        let local_scan;
        let (components, scan) = match captured {
            Some(capture) => {
                if let Some(e) = capture.error.take() {
                    return Err(e);
                }
                (std::mem::take(&mut capture.components), &capture.params)
            }
            None => {
                let mut components = Vec::with_capacity(list.len());
                list.try_for_each_item(|item| {
                    components.push(Covered::try_from_item_ref(item)?);
                    Ok::<(), HttpSigError>(())
                })?;
                local_scan = ParamScan::from_params(list.params);
                (components, &local_scan)
            }
        };
        // The items were validated by the same parser; a different count
        // here would mean the two passes disagree, so never accept that.
        if components.len() != list.len() {
            return Err(malformed("inner list could not be read back"));
        }
        for (i, comp) in components.iter().enumerate() {
            if components.iter().take(i).any(|o| o.same_as(comp)) {
                return Err(HttpSigError::DuplicateComponent {
                    component: comp.to_string(),
                });
            }
        }
        let (params, scanned) = scan.finish(list.params).map_err(|r| malformed(&r))?;
        let signature = match signatures.iter().find(|(l, _)| *l == label) {
            None => {
                return Err(HttpSigError::MissingSignature {
                    label: label.to_owned(),
                });
            }
            Some((
                _,
                EntryRef::Item(ItemRef {
                    bare: BareRef::ByteSequence(b64),
                    ..
                }),
            )) => fields::decode_bytes(b64).ok_or_else(|| HttpSigError::MalformedField {
                field: "signature",
                reason: format!("member `{label}` is not base64"),
            })?,
            Some(_) => {
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
        // parameters or base64 padding). The identifiers were serialised when
        // the components were parsed and the parameters are written from the
        // scanned values; either part is copied as received only when it is
        // provably canonical already (see `write_identifiers`,
        // `ParamScan`).
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
        base.push('(');
        write_identifiers(&mut base, &components, list.items_text());
        base.push(')');
        scanned.write(list.params, &mut base);
        if !key.verify(base.as_bytes(), signature.as_slice()) {
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

/// Writes the covered identifiers of `@signature-params`, one space apart.
/// A canonical spelling is never longer than any other (extra spaces, `=?1`
/// and repeated parameters only add), so when the received text is as long
/// as the canonical one it is the canonical one, and is copied whole.
fn write_identifiers(out: &mut String, components: &[Covered], received: &str) {
    let canonical_len =
        components.iter().map(|c| c.id().len()).sum::<usize>() + components.len().saturating_sub(1);
    if received.len() == canonical_len {
        out.push_str(received);
        return;
    }
    for (i, comp) in components.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(comp.id());
    }
}

/// Characters in the canonical form of `i` (sign included).
fn integer_len(i: i64) -> usize {
    // `ilog10` compares instead of dividing: a timestamp's ten digits cost
    // a chain of ten dependent multiplications the other way.
    let digits = i
        .unsigned_abs()
        .checked_ilog10()
        .map_or(1, |l| l as usize + 1);
    usize::from(i < 0) + digits
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

/// Parses a dictionary field in place, appending its members to `out` and
/// handing the inner lists `scan` asks for to it.
fn parse_field<'t>(
    text: &'t str,
    field: &'static str,
    out: &mut Vec<(&'t str, EntryRef<'t>)>,
    scan: &mut impl MemberScan<'t>,
) -> Result<(), HttpSigError> {
    fields::Parser::new(text)
        .top(|p| p.dictionary_scan(scan, |key, entry| out.push((key, entry))))
        .map_err(|e| HttpSigError::MalformedField {
            field,
            reason: e.to_string(),
        })
}

/// The member of Signature-Input that will be verified first (the
/// configured label, else the first inner list), read by the parser while it
/// validates the field: its covered components and its parameters, so the
/// member is not scanned a second time. The results are used only for that
/// member (`label` is its key, by address) and in the order a second scan
/// would report them.
struct Capture<'c, 't> {
    wanted: Option<&'c str>,
    max_components: usize,
    /// The key of the captured member, once one is chosen.
    label: Option<&'t str>,
    components: Vec<Covered>,
    /// The first component that failed to read; reading stops there.
    error: Option<HttpSigError>,
    params: ParamScan<'t>,
}

impl<'t> MemberScan<'t> for Capture<'_, 't> {
    #[inline(always)]
    fn begin(&mut self, key: &'t str) -> bool {
        if self.label.is_some() || self.wanted.is_some_and(|w| w != key) {
            return false;
        }
        self.label = Some(key);
        // Room for a typical signature's components in one allocation.
        self.components.reserve(8);
        true
    }

    #[inline(always)]
    fn item(&mut self, item: ItemRef<'t>) {
        // Past the limit the signature is refused by count: stop reading.
        if self.error.is_some() || self.components.len() > self.max_components {
            return;
        }
        match Covered::try_from_item_ref(item) {
            Ok(c) => self.components.push(c),
            Err(e) => self.error = Some(e),
        }
    }

    #[inline(always)]
    fn param(&mut self, key: &'t str, value: BareRef<'t>) {
        self.params.push(key, value);
    }
}

/// Signature parameters as written, when there are few (held inline).
const INLINE_PARAMS: usize = 8;

/// The parameters of one signature as written, for `@signature-params`.
struct ScannedParams<'s, 'a> {
    /// The entries in order; meaningful only when `!collapse`.
    entries: &'s [(&'a str, BareRef<'a>)],
    /// A key repeats (its serialisation must collapse it) or there are too
    /// many entries to hold inline: serialise through `to_unique`.
    collapse: bool,
    /// The text as received is already the canonical serialisation.
    verbatim: bool,
}

impl<'a> ScannedParams<'_, 'a> {
    fn write(&self, raw: ParamsRef<'a>, out: &mut String) {
        if self.verbatim {
            out.push_str(raw.as_str());
        } else if self.collapse {
            // Each key once, at its first position, with its last value.
            fields::write_parameters_ref(out, raw.to_unique().as_slice().iter().copied());
        } else {
            fields::write_parameters_ref(out, self.entries.iter().copied());
        }
    }
}

/// Reads the signature parameters in one scan: the registered ones (the
/// last value of a repeated key, RFC 9651 §4.2.3.2) and every entry as
/// written. Registered keys are tracked by bit; other keys are compared with
/// the entries before them. Fed one parameter at a time: by the parser while
/// it validates Signature-Input (see [`Capture`]), or by a second scan.
struct ParamScan<'a> {
    values: [Option<BareRef<'a>>; 6],
    seen: u8,
    entries: [(&'a str, BareRef<'a>); INLINE_PARAMS],
    len: usize,
    collapse: bool,
    /// The length of the canonical serialisation (RFC 9651 §4.1.1.2) of the
    /// types whose canonical form is never longer than any other spelling:
    /// when it equals the received length, the text is canonical as it is.
    canonical_len: Option<usize>,
}

impl<'a> ParamScan<'a> {
    fn new() -> Self {
        Self {
            values: [None; 6],
            seen: 0,
            entries: [("", BareRef::Boolean(true)); INLINE_PARAMS],
            len: 0,
            collapse: false,
            canonical_len: Some(0),
        }
    }

    /// A scan of parameters already parsed.
    #[inline(always)]
    fn from_params(raw: ParamsRef<'a>) -> Self {
        let mut scan = Self::new();
        for (k, v) in raw.iter() {
            scan.push(k, v);
        }
        scan
    }

    #[inline(always)]
    fn push(&mut self, k: &'a str, v: BareRef<'a>) {
        let value_len = match v {
            BareRef::Boolean(true) => Some(0),
            BareRef::Boolean(false) => Some(3),
            BareRef::Integer(i) => Some(1 + integer_len(i)),
            BareRef::String(s) => Some(3 + s.len()),
            BareRef::Token(t) => Some(1 + t.len()),
            _ => None,
        };
        self.canonical_len = self
            .canonical_len
            .zip(value_len)
            .map(|(total, v)| total + 1 + k.len() + v);
        let registered = match k {
            "created" => Some(0),
            "expires" => Some(1),
            "nonce" => Some(2),
            "alg" => Some(3),
            "keyid" => Some(4),
            "tag" => Some(5),
            _ => None,
        };
        if let Some(i) = registered {
            self.collapse |= self.seen & (1 << i) != 0;
            self.seen |= 1 << i;
            if let Some(slot) = self.values.get_mut(i) {
                *slot = Some(v);
            }
        } else {
            // Unregistered parameters are covered by the signature (they are
            // part of @signature-params) and otherwise ignored.
            let before = self.entries.get(..self.len).unwrap_or_default();
            self.collapse |= before.iter().any(|(o, _)| *o == k);
        }
        match self.entries.get_mut(self.len) {
            Some(slot) => {
                *slot = (k, v);
                self.len += 1;
            }
            None => self.collapse = true,
        }
    }

    /// The registered values, type-checked, and the entries; `raw` is the
    /// text the parameters were read from.
    #[inline(always)]
    fn finish(&self, raw: ParamsRef<'a>) -> Result<(Params<'a>, ScannedParams<'_, 'a>), String> {
        fn string<'a>(v: Option<BareRef<'a>>, k: &str) -> Result<Option<Cow<'a, str>>, String> {
            match v {
                None => Ok(None),
                Some(BareRef::String(s)) => Ok(Some(BareRef::unescaped(s))),
                Some(_) => Err(format!("parameter `{k}` has the wrong type")),
            }
        }
        let [created, expires, nonce, alg, keyid, tag] = self.values;
        let int = |v: Option<BareRef<'_>>, k: &str| match v {
            None => Ok(None),
            Some(BareRef::Integer(i)) => Ok(Some(i)),
            Some(_) => Err(format!("parameter `{k}` has the wrong type")),
        };
        let params = Params {
            created: int(created, "created")?,
            expires: int(expires, "expires")?,
            nonce: string(nonce, "nonce")?,
            alg: string(alg, "alg")?,
            keyid: string(keyid, "keyid")?,
            tag: string(tag, "tag")?,
        };
        let verbatim = !self.collapse && self.canonical_len == Some(raw.as_str().len());
        Ok((
            params,
            ScannedParams {
                entries: self.entries.get(..self.len).unwrap_or_default(),
                collapse: self.collapse,
                verbatim,
            },
        ))
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

    #[test]
    fn repeated_and_many_parameters_collapse() {
        let text = ";created=1;a=1;b=2;a=3;c;d;e;f;g;h;i";
        let mut p = fields::Parser::new(text);
        let raw = p.item_params_for_test();
        let scan = ParamScan::from_params(raw);
        let (params, scanned) = scan.finish(raw).unwrap();
        assert_eq!(params.created, Some(1));
        assert!(scanned.collapse);
        let mut out = String::new();
        scanned.write(raw, &mut out);
        assert_eq!(out, ";created=1;a=3;b=2;c;d;e;f;g;h;i");
        // Few and distinct: written as scanned.
        let mut p = fields::Parser::new(";keyid=\"k\";created=1;x=?0");
        let raw = p.item_params_for_test();
        let scan = ParamScan::from_params(raw);
        let (params, scanned) = scan.finish(raw).unwrap();
        assert_eq!(params.keyid.as_deref(), Some("k"));
        assert!(!scanned.collapse);
        assert!(scanned.verbatim);
        let mut out = String::new();
        scanned.write(raw, &mut out);
        assert_eq!(out, ";keyid=\"k\";created=1;x=?0");
    }

    #[test]
    fn non_canonical_parameters_are_reserialised() {
        for (text, canonical, verbatim) in [
            (";created=0012;b", ";created=12;b", false),
            (";created=-0", ";created=0", false),
            ("; created=5;t=tok", ";created=5;t=tok", false),
            (";x=?1;y=?0", ";x;y=?0", false),
            (";d=1.50", ";d=1.5", false),
            (";d=1.5", ";d=1.5", false),
            (
                ";n=-12;s=\"a\\\"b\";t=*x/y",
                ";n=-12;s=\"a\\\"b\";t=*x/y",
                true,
            ),
            (
                ";created=1795428000;expires=1795428300",
                ";created=1795428000;expires=1795428300",
                true,
            ),
        ] {
            let mut p = fields::Parser::new(text);
            let raw = p.item_params_for_test();
            assert_eq!(raw.as_str(), text, "{text}");
            let scan = ParamScan::from_params(raw);
            let (_, scanned) = scan.finish(raw).unwrap();
            assert_eq!(scanned.verbatim, verbatim, "{text}");
            let mut out = String::new();
            scanned.write(raw, &mut out);
            assert_eq!(out, canonical, "{text}");
        }
    }

    /// What the parser captures while validating must be what a second scan
    /// of the chosen member reads: same components (or the same first
    /// error), same parameters, same `@signature-params` text.
    #[test]
    fn captured_member_matches_a_second_scan() {
        for (text, wanted) in [
            (r#"sig1=("@method" "@path");created=1;keyid="k""#, None),
            (r#"a=?1, sig1=("@method");alg="x", b=("date")"#, None),
            (r#"a=("date"), b=("@path" "x";bs);created=0012"#, Some("b")),
            (r#"a=("@nope" "date";foo);keyid=1"#, None),
            (
                r#"a=("date";key="k";req "@query-param";name="q");z;y=:AA==:"#,
                None,
            ),
            (r#"a=( "a"  "b" );x=1;x=2;created=3;created=-0"#, None),
            (
                r#"a=("a" "b" "c" "d" "e" "f" "g" "h" "i" "j");a;b;c;d;e;f;g;h;i"#,
                None,
            ),
            (r#"a=("a"), a=("b")"#, None),
            (r#"a=1, b=()"#, Some("b")),
        ] {
            let mut members = Vec::new();
            let mut capture = Capture {
                wanted,
                max_components: 4,
                label: None,
                components: Vec::new(),
                error: None,
                params: ParamScan::new(),
            };
            parse_field(text, "signature-input", &mut members, &mut capture).unwrap();
            let (label, entry) = members
                .iter()
                .find(|(l, e)| {
                    matches!(e, EntryRef::InnerList(_)) && wanted.is_none_or(|w| w == *l)
                })
                .unwrap();
            assert!(std::ptr::eq(capture.label.unwrap(), *label), "{text}");
            let EntryRef::InnerList(list) = entry else {
                unreachable!()
            };
            let mut components = Vec::new();
            let second = list.try_for_each_item(|item| {
                if components.len() <= 4 {
                    components.push(Covered::try_from_item_ref(item)?);
                }
                Ok::<(), HttpSigError>(())
            });
            match (second, capture.error) {
                (Ok(()), None) => {
                    let ids = |c: &[Covered]| c.iter().map(|c| c.to_string()).collect::<Vec<_>>();
                    assert_eq!(ids(&capture.components), ids(&components), "{text}");
                }
                (Err(a), Some(b)) => assert_eq!(a.to_string(), b.to_string(), "{text}"),
                (a, b) => panic!("{text}: {a:?} / {b:?}"),
            }
            let again = ParamScan::from_params(list.params);
            let write = |scan: &ParamScan<'_>| {
                scan.finish(list.params).map(|(p, scanned)| {
                    let mut out = String::new();
                    scanned.write(list.params, &mut out);
                    let own = |v: Option<Cow<'_, str>>| v.map(Cow::into_owned);
                    (p.created, own(p.keyid), own(p.alg), out)
                })
            };
            assert_eq!(write(&capture.params), write(&again), "{text}");
        }
    }

    #[test]
    fn identifiers_are_written_canonically() {
        for (text, canonical) in [
            (
                r#"k=("@method" "date";req "content-digest";key="sha-256")"#,
                None,
            ),
            (r#"k=(  "@method"   "date" )"#, Some(r#""@method" "date""#)),
            (r#"k=("date";req;req)"#, Some(r#""date";req"#)),
            (r#"k=("date";req=?1)"#, Some(r#""date";req"#)),
            (r#"k=("date"; req)"#, Some(r#""date";req"#)),
            (r#"k=()"#, None),
        ] {
            let dict = fields::parse_dictionary_ref(text).unwrap();
            let Some((_, EntryRef::InnerList(list))) = dict.first() else {
                panic!("{text}")
            };
            let mut components = Vec::new();
            list.try_for_each_item(|item| {
                components.push(Covered::try_from_item_ref(item)?);
                Ok::<(), HttpSigError>(())
            })
            .unwrap();
            let mut out = String::new();
            write_identifiers(&mut out, &components, list.items_text());
            assert_eq!(out, canonical.unwrap_or(list.items_text()), "{text}");
        }
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

    proptest::proptest! {
        // Random (often non-canonical) parameter spellings: what the verifier
        // writes into @signature-params (verbatim, as scanned or collapsed)
        // must be the owned model's canonical serialisation.
        #[test]
        fn signature_params_are_canonical(
            params in r#"(; ?([a-c*][a-c0-9]?|created|tag)(=(-?[0-9]{1,4}(\.[0-9]{1,3})?|"[a-z\\\\"]{0,3}"|\?[01]|:[A-Za-z0-9+/]{0,6}={0,2}:|[a-z*][a-z/:]{0,3}|@-?[0-9]{1,3}|%"[a-z%0-9]{0,4}"))?){0,10}"#
        ) {
            let input = format!("k=(\"a\"){params}");
            let owned = fields::parse_dictionary(&input);
            proptest::prop_assume!(owned.is_ok());
            let Ok(owned) = owned else { return Ok(()) };
            let Some((_, fields::Entry::InnerList(_, owned))) = owned.first() else {
                panic!("{input}")
            };
            let mut want = String::new();
            fields::write_parameters(&mut want, owned).unwrap();
            let dict = fields::parse_dictionary_ref(&input).unwrap();
            let Some((_, EntryRef::InnerList(list))) = dict.first() else {
                panic!("{input}")
            };
            // Registered names with the wrong type are refused, not written.
            if let Ok((_, scanned)) = ParamScan::from_params(list.params).finish(list.params) {
                let mut got = String::new();
                scanned.write(list.params, &mut got);
                proptest::prop_assert_eq!(got, want);
            }
        }
    }
}
