//! Identity header values: principal fields and claims as escaped text.

use serde_json::Value;

use super::IdentityField;
use crate::oidc::Principal;

/// Appends `value` escaped (see [`Forwarder::identity_headers`](super::Forwarder::identity_headers)).
pub fn escape_identity_value(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in value.bytes() {
        if (0x21..=0x7e).contains(&byte) && byte != b',' && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push('%');
            for nibble in [byte >> 4, byte & 0x0f] {
                if let Some(&digit) = HEX.get(usize::from(nibble)) {
                    out.push(char::from(digit));
                }
            }
        }
    }
}

fn push_list<'a>(items: impl Iterator<Item = &'a str>, out: &mut String) {
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        escape_identity_value(item, out);
    }
}

fn push_json(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => escape_identity_value(s, out),
        Value::Number(n) => escape_identity_value(&n.to_string(), out),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Array(items) => {
            let mut first = true;
            for item in items {
                if matches!(item, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    push_json(item, out);
                }
            }
        }
        Value::Null | Value::Object(_) => {}
    }
}

fn claim<'a>(principal: &'a Principal, path: &str) -> Option<&'a Value> {
    let Some(pointer) = path.strip_prefix('/') else {
        return principal.claims.get(path);
    };
    let (first, rest) = match pointer.split_once('/') {
        Some((first, rest)) => (first, Some(rest)),
        None => (pointer, None),
    };
    let first = first.replace("~1", "/").replace("~0", "~");
    let top = principal.claims.get(&first)?;
    match rest {
        None => Some(top),
        Some(rest) => top.pointer(&format!("/{rest}")),
    }
}

pub(super) fn identity_value(field: &IdentityField, principal: &Principal, out: &mut String) {
    let scalar = |v: &Option<String>, out: &mut String| {
        if let Some(v) = v {
            escape_identity_value(v, out);
        }
    };
    match field {
        IdentityField::Subject => scalar(&principal.subject, out),
        IdentityField::Issuer => scalar(&principal.issuer, out),
        IdentityField::Tenant => scalar(&principal.tenant, out),
        IdentityField::Email => scalar(&principal.email, out),
        IdentityField::Roles => push_list(principal.roles.iter().map(String::as_str), out),
        IdentityField::Scopes => push_list(principal.scopes.iter().map(String::as_str), out),
        IdentityField::Groups => push_list(principal.groups.iter().map(String::as_str), out),
        IdentityField::Claim(path) => {
            if let Some(value) = claim(principal, path) {
                push_json(value, out);
            }
        }
    }
}
