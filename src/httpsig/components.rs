//! Component identifiers (RFC 9421 §2): a derived component or field name
//! with its parameters, checked against §2.1 and §2.2 and serialised once,
//! since the identifier goes into every signature base.

use super::HttpSigError;
use super::fields::{self, BareItem, Item, Parameters};
use std::borrow::Cow;
use std::fmt;

/// Identifiers common enough to be recognised without allocating; each is
/// valid without parameters and lives in a static. `None` when `name` is not
/// one of them.
fn common(name: &str) -> Option<&'static Component> {
    use http::header;
    macro_rules! table {
        ($($name:literal => $header:expr,)*) => {
            match name {
                $($name => {
                    static C: Component = Component {
                        name: Cow::Borrowed($name),
                        params: Vec::new(),
                        id: Cow::Borrowed(concat!("\"", $name, "\"")),
                        header: $header,
                    };
                    Some(&C)
                })*
                _ => None,
            }
        };
    }
    table! {
        "@method" => None,
        "@authority" => None,
        "@path" => None,
        "@query" => None,
        "@target-uri" => None,
        "@scheme" => None,
        "@request-target" => None,
        "@status" => None,
        "content-digest" => Some(header::HeaderName::from_static("content-digest")),
        "content-type" => Some(header::CONTENT_TYPE),
        "content-length" => Some(header::CONTENT_LENGTH),
        "date" => Some(header::DATE),
        "host" => Some(header::HOST),
        "authorization" => Some(header::AUTHORIZATION),
    }
}

/// A covered component as the verifier holds it: a well-known identifier
/// by reference to its static, anything else parsed onto the heap. Small
/// (two words), so collecting a signature's components moves little.
#[derive(Debug, Clone)]
pub(crate) enum Covered {
    Common(&'static Component),
    Parsed(Box<Component>),
}

impl std::ops::Deref for Covered {
    type Target = Component;

    fn deref(&self) -> &Component {
        match self {
            Self::Common(c) => c,
            Self::Parsed(c) => c,
        }
    }
}

impl std::borrow::Borrow<Component> for Covered {
    fn borrow(&self) -> &Component {
        self
    }
}

impl Covered {
    /// A well-known identifier without parameters, by reference.
    pub(crate) fn common(name: &str) -> Option<Self> {
        common(name).map(Self::Common)
    }

    /// From a Signature-Input item read by the verifier: its name (the
    /// string's value) and parameters. The common case (a well-known name,
    /// no parameters) allocates and copies nothing.
    pub(crate) fn try_from_parts(name: &str, params: Parameters) -> Result<Self, HttpSigError> {
        if params.is_empty()
            && let Some(c) = common(name)
        {
            return Ok(Self::Common(c));
        }
        Component::try_from_parts(name.to_owned(), params).map(|c| Self::Parsed(Box::new(c)))
    }
}

/// One covered component: a derived component (`@method`, …) or an HTTP field
/// name, with its parameters (`sf`, `key`, `bs`, `req`, `name`).
///
/// ```
/// use edge_auth::httpsig::Component;
/// let c = Component::try_from_identifier(r#""@query-param";name="id""#)?;
/// assert_eq!(c.name(), "@query-param");
/// assert_eq!(c.to_string(), r#""@query-param";name="id""#);
/// # Ok::<(), edge_auth::httpsig::HttpSigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub(crate) name: Cow<'static, str>,
    pub(crate) params: Parameters,
    /// The serialised identifier, computed once (it goes into every base).
    id: Cow<'static, str>,
    /// The field's header name, for fields (saves parsing it per message).
    pub(crate) header: Option<http::HeaderName>,
}

impl Component {
    /// A component without parameters, e.g. `@method` or `content-type`.
    ///
    /// # Errors
    /// [`HttpSigError::MalformedComponent`] for an unknown derived component
    /// or a name that is not a lowercase field name.
    pub fn try_from_name(name: &str) -> Result<Self, HttpSigError> {
        common(name).map_or_else(
            || Self::try_from_parts(name.to_owned(), Vec::new()),
            |c| Ok(c.clone()),
        )
    }

    /// Parses a serialised component identifier, as it appears in
    /// Signature-Input: an sf-string with parameters, e.g. `"date"` or
    /// `"content-digest";key="sha-256"`.
    ///
    /// # Errors
    /// [`HttpSigError::MalformedComponent`] when the identifier is not a
    /// string item, names an unknown derived component, or carries unknown or
    /// conflicting parameters.
    pub fn try_from_identifier(identifier: &str) -> Result<Self, HttpSigError> {
        let item =
            fields::parse_item(identifier).map_err(|e| HttpSigError::MalformedComponent {
                component: identifier.to_owned(),
                reason: e.to_string(),
            })?;
        Self::try_from_item(&item)
    }

    pub(crate) fn try_from_item(item: &Item) -> Result<Self, HttpSigError> {
        match &item.bare {
            BareItem::String(name) => Self::try_from_parts(name.clone(), item.params.clone()),
            _ => Err(HttpSigError::MalformedComponent {
                component: fields::serialize_item(item).unwrap_or_default(),
                reason: "component identifier must be a string".into(),
            }),
        }
    }

    pub(crate) fn try_from_parts(name: String, params: Parameters) -> Result<Self, HttpSigError> {
        let mut c = Self {
            name: Cow::Owned(name),
            params,
            id: Cow::Borrowed(""),
            header: None,
        };
        let mut id = String::with_capacity(c.name.len() + 2);
        fields::write_string(&mut id, &c.name)
            .and_then(|()| fields::write_parameters(&mut id, &c.params))
            .map_err(|e| HttpSigError::MalformedComponent {
                component: format!("\"{}\"", crate::text::printable(&c.name, 128)),
                reason: e.to_string(),
            })?;
        c.id = Cow::Owned(id);
        c.validate()?;
        if !c.name.starts_with('@') {
            // Validated above as a lowercase token, so this cannot fail.
            c.header = http::HeaderName::from_bytes(c.name.as_bytes()).ok();
        }
        Ok(c)
    }

    /// The serialised identifier, as it appears in Signature-Input.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The component name (`@path`, `content-digest`, …).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the component is taken from the related request (`;req`).
    pub fn is_req(&self) -> bool {
        self.flag("req")
    }

    pub(crate) fn param(&self, key: &str) -> Option<&BareItem> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub(crate) fn flag(&self, key: &str) -> bool {
        self.param(key).is_some()
    }

    pub(crate) fn bad(&self, reason: &str) -> HttpSigError {
        HttpSigError::MalformedComponent {
            component: self.to_string(),
            reason: reason.to_owned(),
        }
    }

    fn validate(&self) -> Result<(), HttpSigError> {
        for (k, v) in &self.params {
            match (k.as_str(), v) {
                ("sf" | "bs" | "req" | "tr", BareItem::Boolean(true)) => {}
                ("key" | "name", BareItem::String(_)) => {}
                ("sf" | "bs" | "req" | "tr" | "key" | "name", _) => {
                    return Err(self.bad("parameter has the wrong type"));
                }
                // §2.5: a parameter that is not understood is an error.
                _ => return Err(self.bad("unknown component parameter")),
            }
        }
        if self.flag("tr") {
            return Err(self.bad("trailer fields (`tr`) are not supported"));
        }
        if let Some(derived) = self.name.strip_prefix('@') {
            if !matches!(
                derived,
                "method"
                    | "target-uri"
                    | "authority"
                    | "scheme"
                    | "request-target"
                    | "path"
                    | "query"
                    | "query-param"
                    | "status"
            ) {
                return Err(self.bad("unknown derived component"));
            }
            if self.flag("sf") || self.flag("bs") || self.flag("key") {
                return Err(self.bad("field parameters on a derived component"));
            }
            let is_qp = derived == "query-param";
            if is_qp != self.flag("name") {
                return Err(self.bad("`name` is required on @query-param and only there"));
            }
            if derived == "status" && self.is_req() {
                return Err(self.bad("@status cannot come from the request"));
            }
            return Ok(());
        }
        if self.name.is_empty()
            || !self.name.bytes().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&c)
            })
        {
            return Err(self.bad("field name must be a lowercase token"));
        }
        if self.flag("name") {
            return Err(self.bad("`name` is only for @query-param"));
        }
        if self.flag("bs") && (self.flag("sf") || self.flag("key")) {
            return Err(self.bad("`bs` cannot be combined with `sf` or `key`"));
        }
        Ok(())
    }

    /// Same identifier: same name and the same parameters in any order.
    pub(crate) fn same_as(&self, other: &Self) -> bool {
        self.name == other.name
            && self.params.len() == other.params.len()
            && self.params.iter().all(|p| other.params.contains(p))
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_validation() {
        assert!(Component::try_from_name("@nope").is_err());
        assert!(Component::try_from_name("Content-Type").is_err());
        assert!(Component::try_from_identifier("\"date\";bs;sf").is_err());
        assert!(Component::try_from_identifier("\"date\";foo").is_err());
        assert!(Component::try_from_identifier("\"@query-param\"").is_err());
        assert!(Component::try_from_identifier("\"date\";req").is_ok());
    }
}
