//! The PATCH engine (RFC 7644 §3.5.2) with Entra's dialect.
//!
//! This file holds the request types and their parser; `apply.rs` the
//! engine, `members.rs` the group-membership arithmetic.
//! [`parse_patch_request`] reads a `PatchOp` body (`Operations` key and `op`
//! in any case, paths parsed with the filter grammar); [`apply_patch`]
//! applies `add` / `replace` / `remove` to a canonical SCIM JSON resource and
//! reports what changed; [`split_member_ops`] turns group-membership
//! operations into a [`MemberDelta`] so large groups are changed without
//! loading their members. Entra's forms are accepted: path-less values with
//! dotted or URN-qualified keys, value-filter paths on every operation,
//! `"True"`/`"False"` where the schema says boolean, `manager` as a bare id,
//! `{"value": id}` or `""`, member removal with a value array, and `null` or
//! empty values clearing an attribute.
//!
//! Invariants: operations apply in order to a copy, so a failing request
//! leaves nothing half-applied; read-only attributes (`id`, `meta`, `groups`)
//! are refused with `mutability`; a path the schema does not define is
//! `invalidPath`, a value filter matching nothing (where no element can be
//! created from it) is `noTarget`; the engine never panics.

use std::fmt;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::error::ScimError;
use super::filter::{parse_path_expr, Filter};
use super::path::{get_ci, AttrPath};
use super::urn::PATCH_OP;

mod apply;
mod members;
#[cfg(test)]
mod tests;

pub use apply::{apply_patch, PatchOutcome};
pub use members::{split_member_ops, MemberChange, MemberDelta};

/// Most operations accepted in one request.
pub const MAX_OPERATIONS: usize = 10_000;

/// A PATCH operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchOp {
    /// `add`
    Add,
    /// `replace`
    Replace,
    /// `remove`
    Remove,
}

impl PatchOp {
    /// The keyword (lower case).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            PatchOp::Add => "add",
            PatchOp::Replace => "replace",
            PatchOp::Remove => "remove",
        }
    }

    /// The kind for a keyword, case-insensitively (`Add`, `REPLACE`, …).
    #[must_use]
    pub fn from_keyword(word: &str) -> Option<Self> {
        [PatchOp::Add, PatchOp::Replace, PatchOp::Remove]
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word.trim()))
    }
}

/// A PATCH path: an attribute path (with an optional trailing sub-attribute)
/// and an optional value filter on the attribute's elements.
///
/// `emails[type eq "work"].value` is `attr = emails.value`,
/// `filter = type eq "work"`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// Attribute (and sub-attribute) targeted.
    pub attr: AttrPath,
    /// Value filter selecting elements of the attribute.
    pub filter: Option<Filter>,
}

impl PatchPath {
    /// Parses a PATCH `path`; errors are `invalidPath`.
    pub fn parse(input: &str) -> Result<Self, ScimError> {
        let (attr, filter) = parse_path_expr(input)?;
        Ok(Self { attr, filter })
    }
}

impl From<AttrPath> for PatchPath {
    fn from(attr: AttrPath) -> Self {
        Self { attr, filter: None }
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(filter) = &self.filter else {
            return write!(f, "{}", self.attr);
        };
        if let Some(schema) = &self.attr.schema {
            write!(f, "{schema}:")?;
        }
        write!(f, "{}[{filter}]", self.attr.name)?;
        if let Some(sub) = &self.attr.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// One PATCH operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// Kind.
    pub op: PatchOp,
    /// Target; `None` means the resource itself.
    pub path: Option<PatchPath>,
    /// Value (`Some(Value::Null)` when the client sent `null`).
    pub value: Option<Value>,
}

/// A `PatchOp` request body.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    /// The `schemas` URNs sent.
    pub schemas: Vec<String>,
    /// The operations, in order.
    pub operations: Vec<PatchOperation>,
}

impl<'de> Deserialize<'de> for PatchRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let body = Value::deserialize(deserializer)?;
        parse_patch_request(&body).map_err(|e| serde::de::Error::custom(e.detail))
    }
}

/// Parses a `PatchOp` body (RFC 7644 §3.5.2).
///
/// Member names are matched case-insensitively (`Operations`, `op`, `path`,
/// `value`). A `schemas` member, when present, must list the `PatchOp` URN.
pub fn parse_patch_request(body: &Value) -> Result<PatchRequest, ScimError> {
    let Some(obj) = body.as_object() else {
        return Err(ScimError::invalid_syntax(
            "a PATCH body must be a JSON object",
        ));
    };
    let schemas = match get_ci(obj, "schemas") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for item in items {
                let Some(s) = item.as_str() else {
                    return Err(ScimError::invalid_syntax(
                        "'schemas' must be an array of strings",
                    ));
                };
                out.push(s.to_owned());
            }
            if !out.iter().any(|s| s.eq_ignore_ascii_case(PATCH_OP)) {
                return Err(ScimError::invalid_syntax(format!(
                    "'schemas' must contain {PATCH_OP}"
                )));
            }
            out
        }
        Some(_) => {
            return Err(ScimError::invalid_syntax(
                "'schemas' must be an array of strings",
            ))
        }
    };
    let Some(Value::Array(raw_ops)) = get_ci(obj, "Operations") else {
        return Err(ScimError::invalid_syntax(
            "'Operations' must be an array of operations",
        ));
    };
    if raw_ops.is_empty() {
        return Err(ScimError::invalid_syntax("'Operations' is empty"));
    }
    if raw_ops.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_syntax(format!(
            "more than {MAX_OPERATIONS} operations in one request"
        )));
    }
    let mut operations = Vec::with_capacity(raw_ops.len());
    for (i, raw) in raw_ops.iter().enumerate() {
        let n = i + 1;
        let Some(o) = raw.as_object() else {
            return Err(ScimError::invalid_syntax(format!(
                "operation {n} is not an object"
            )));
        };
        let op = get_ci(o, "op")
            .and_then(Value::as_str)
            .and_then(PatchOp::from_keyword)
            .ok_or_else(|| {
                ScimError::invalid_syntax(format!(
                    "operation {n}: 'op' must be add, replace or remove"
                ))
            })?;
        let path = match get_ci(o, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(
                PatchPath::parse(s)
                    .map_err(|e| ScimError::invalid_path(format!("operation {n}: {}", e.detail)))?,
            ),
            Some(_) => {
                return Err(ScimError::invalid_path(format!(
                    "operation {n}: 'path' must be a string"
                )))
            }
        };
        let value = get_ci(o, "value").cloned();
        match op {
            PatchOp::Remove if path.is_none() => {
                return Err(ScimError::no_target(format!(
                    "operation {n}: remove needs a 'path'"
                )))
            }
            PatchOp::Add | PatchOp::Replace if value.is_none() => {
                return Err(ScimError::invalid_syntax(format!(
                    "operation {n}: {} needs a 'value'",
                    op.as_str()
                )))
            }
            _ => {}
        }
        operations.push(PatchOperation { op, path, value });
    }
    Ok(PatchRequest {
        schemas,
        operations,
    })
}
