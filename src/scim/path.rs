//! Attribute paths (RFC 7644 §3.10) and case-insensitive member lookup.
//!
//! [`AttrPath`] is `[schema-URN ":"] name ["." sub-attribute]`, shared by
//! schemas, filters, PATCH paths and projection; [`parse_attr_path`] reads
//! one; [`get_ci`] and [`take_ci`] find a JSON member whatever the case of
//! its key. Invariants: names keep the spelling the client wrote and compare
//! case-insensitively (RFC 7643 §2.1); parsing never panics; this module
//! depends on nothing in the core but [`ScimError`].

use std::fmt;

use serde_json::{Map, Value};

use super::error::ScimError;

/// Longest attribute path accepted, in bytes (the same bound as a filter's).
pub const MAX_PATH_LEN: usize = 8 * 1024;

/// An attribute path: `[schema-URN ":"] name ["." sub-attribute]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// Schema URN qualifying the attribute, as written.
    pub schema: Option<String>,
    /// Attribute name, as written.
    pub name: String,
    /// Sub-attribute name, as written.
    pub sub_attr: Option<String>,
}

impl AttrPath {
    /// An unqualified path to `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            schema: None,
            name: name.into(),
            sub_attr: None,
        }
    }

    /// This path with sub-attribute `sub`.
    #[must_use]
    pub fn with_sub(mut self, sub: impl Into<String>) -> Self {
        self.sub_attr = Some(sub.into());
        self
    }

    /// This path qualified by schema `urn`.
    #[must_use]
    pub fn with_schema(mut self, urn: impl Into<String>) -> Self {
        self.schema = Some(urn.into());
        self
    }

    /// Whether both paths name the same attribute (names compare
    /// case-insensitively, as RFC 7643 §2.1 says).
    #[must_use]
    pub fn same_as(&self, other: &AttrPath) -> bool {
        fn opt_eq(a: Option<&str>, b: Option<&str>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                (None, None) => true,
                _ => false,
            }
        }
        opt_eq(self.schema.as_deref(), other.schema.as_deref())
            && self.name.eq_ignore_ascii_case(&other.name)
            && opt_eq(self.sub_attr.as_deref(), other.sub_attr.as_deref())
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{schema}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

pub(crate) fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b':' | b'.' | b'-' | b'_' | b'$')
}

pub(crate) fn valid_attr_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '$' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Splits an attribute-path token into an [`AttrPath`], or says why not.
pub(crate) fn attr_path_from_token(tok: &str) -> Result<AttrPath, String> {
    let is_urn = tok.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    let (schema, rest) = if is_urn {
        let idx = tok.rfind(':').unwrap_or(0);
        let schema = tok.get(..idx).unwrap_or_default();
        let rest = tok.get(idx + 1..).unwrap_or_default();
        if schema.len() <= 4 || schema.ends_with(':') {
            return Err(format!(
                "'{tok}' has no attribute name after the schema URN"
            ));
        }
        (Some(schema.to_owned()), rest)
    } else if tok.contains(':') {
        return Err(format!(
            "'{tok}': ':' is only allowed after a schema URN (urn:…)"
        ));
    } else {
        (None, tok)
    };
    let mut parts = rest.split('.');
    let name = parts.next().unwrap_or_default();
    let sub = parts.next();
    if parts.next().is_some() {
        return Err(format!("'{tok}' has more than one sub-attribute"));
    }
    if !valid_attr_name(name) {
        return Err(format!("'{name}' is not a valid attribute name"));
    }
    if let Some(sub) = sub {
        if !valid_attr_name(sub) {
            return Err(format!("'{sub}' is not a valid sub-attribute name"));
        }
    }
    Ok(AttrPath {
        schema,
        name: name.to_owned(),
        sub_attr: sub.map(str::to_owned),
    })
}

/// Parses an attribute path (`userName`, `name.givenName`,
/// `urn:…:enterprise:2.0:User:manager.value`); errors are `invalidPath`.
pub fn parse_attr_path(input: &str) -> Result<AttrPath, ScimError> {
    let tok = input.trim();
    if tok.len() > MAX_PATH_LEN {
        return Err(ScimError::invalid_path("attribute path too long"));
    }
    if tok.is_empty() || !tok.bytes().all(is_path_byte) {
        return Err(ScimError::invalid_path(format!(
            "'{tok}' is not a valid attribute path"
        )));
    }
    attr_path_from_token(tok).map_err(ScimError::invalid_path)
}

/// The value of `key` in `map`, matching the key case-insensitively.
pub(crate) fn get_ci<'v>(map: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Removes the entry whose key matches `key` case-insensitively and returns
/// its value.
pub(crate) fn take_ci(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    if let Some(v) = map.remove(key) {
        return Some(v);
    }
    let found = map.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()?;
    map.remove(&found)
}
