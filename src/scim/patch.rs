//! The PATCH engine (RFC 7644 §3.5.2) with Entra's dialect.
//!
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
use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{parse_path_expr, CompValue, CompareOp, Filter};
use super::path::{get_ci, parse_attr_path, take_ci, AttrPath};
use super::resource::{coerce, coerce_single, tidy_extensions, with_container};
use super::schema::{AttrType, AttributeDef, Located, Mutability, ResourceSchema};
use super::urn::{GROUP_SCHEMA, PATCH_OP};

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

/// The result of [`apply_patch`].
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOutcome {
    /// The patched resource.
    pub resource: Value,
    /// Whether anything other than `schemas` changed.
    pub changed: bool,
    /// Top-level attributes that changed (`userName`, `emails`, and for
    /// extensions `urn:…:User:manager`), sorted.
    pub changed_attributes: Vec<String>,
}

/// Applies `ops` in order to `resource` (canonical SCIM JSON).
pub fn apply_patch(
    resource: &Value,
    ops: &[PatchOperation],
    schema: &ResourceSchema,
) -> Result<PatchOutcome, ScimError> {
    let Some(before) = resource.as_object() else {
        return Err(ScimError::invalid_syntax(
            "the resource to patch is not an object",
        ));
    };
    let mut res = before.clone();
    for (i, op) in ops.iter().enumerate() {
        apply_op(&mut res, op, schema).map_err(|mut e| {
            e.detail = format!("operation {}: {}", i + 1, e.detail);
            e
        })?;
    }
    for attr in &schema.core.attributes {
        let had = get_ci(before, &attr.name).is_some_and(|v| !v.is_null());
        if attr.required && had && get_ci(&res, &attr.name).is_none() {
            return Err(ScimError::invalid_value(format!(
                "required attribute '{}' cannot be removed",
                attr.name
            )));
        }
    }
    tidy_extensions(&mut res, schema);
    let changed_attributes = changed_paths(before, &res, schema);
    Ok(PatchOutcome {
        resource: Value::Object(res),
        changed: !changed_attributes.is_empty(),
        changed_attributes,
    })
}

fn changed_paths(
    before: &Map<String, Value>,
    after: &Map<String, Value>,
    schema: &ResourceSchema,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut keys: Vec<&String> = before.keys().collect();
    keys.extend(after.keys().filter(|k| !before.contains_key(*k)));
    for key in keys {
        let (b, a) = (before.get(key), after.get(key));
        if key == "schemas" || a == b {
            continue;
        }
        match (schema.extension(key), b, a) {
            (Some(ext), b, a) => {
                let empty = Map::new();
                let bm = b.and_then(Value::as_object).unwrap_or(&empty);
                let am = a.and_then(Value::as_object).unwrap_or(&empty);
                let mut inner: Vec<&String> = bm.keys().collect();
                inner.extend(am.keys().filter(|k| !bm.contains_key(*k)));
                for k in inner {
                    if bm.get(k) != am.get(k) {
                        out.push(format!("{}:{k}", ext.id));
                    }
                }
            }
            _ => out.push(key.clone()),
        }
    }
    out.sort();
    out.dedup();
    out
}

fn apply_op(
    res: &mut Map<String, Value>,
    op: &PatchOperation,
    schema: &ResourceSchema,
) -> Result<(), ScimError> {
    if let Some(path) = &op.path {
        return apply_at(
            res,
            op.op,
            &path.attr,
            path.filter.as_ref(),
            op.value.as_ref(),
            schema,
        );
    }
    if op.op == PatchOp::Remove {
        return Err(ScimError::no_target("remove needs a 'path'"));
    }
    let Some(Value::Object(obj)) = op.value.as_ref() else {
        return Err(ScimError::invalid_value(
            "an operation without a 'path' needs an object 'value'",
        ));
    };
    for (key, v) in obj {
        apply_pathless_member(res, op.op, key, v, schema)?;
    }
    Ok(())
}

fn apply_pathless_member(
    res: &mut Map<String, Value>,
    op: PatchOp,
    key: &str,
    value: &Value,
    schema: &ResourceSchema,
) -> Result<(), ScimError> {
    if key.eq_ignore_ascii_case("schemas") {
        return Ok(());
    }
    if let Some((sd, _)) = schema.schema_by_id(key) {
        let urn = sd.id.clone();
        return apply_schema_object(res, op, &urn, value, schema);
    }
    // Entra repeats the resource's own `id` in path-less replaces: naming the
    // current value is not an attempt to change it.
    if key.eq_ignore_ascii_case("id") && res.get("id") == Some(value) {
        return Ok(());
    }
    let path = parse_attr_path(key)?;
    apply_at(res, op, &path, None, Some(value), schema)
}

fn apply_schema_object(
    res: &mut Map<String, Value>,
    op: PatchOp,
    urn: &str,
    value: &Value,
    schema: &ResourceSchema,
) -> Result<(), ScimError> {
    let Value::Object(inner) = value else {
        return Err(ScimError::invalid_value(format!(
            "'{urn}' expects an object"
        )));
    };
    for (k, v) in inner {
        let mut path = parse_attr_path(k)?;
        if path.schema.is_none() {
            path.schema = Some(urn.to_owned());
        }
        apply_at(res, op, &path, None, Some(v), schema)?;
    }
    Ok(())
}

fn check_mutability(loc: &Located<'_>, op: PatchOp) -> Result<(), ScimError> {
    let path = loc.full_path();
    if loc.attr.mutability == Mutability::ReadOnly {
        return Err(ScimError::mutability(format!("'{path}' is read-only")));
    }
    if let Some(sub) = loc.sub {
        if sub.mutability == Mutability::ReadOnly {
            return Err(ScimError::mutability(format!("'{path}' is read-only")));
        }
        if sub.mutability == Mutability::Immutable && op != PatchOp::Add {
            return Err(ScimError::mutability(format!("'{path}' is immutable")));
        }
    }
    Ok(())
}

fn required_value(value: Option<&Value>, op: PatchOp) -> Result<&Value, ScimError> {
    value.ok_or_else(|| ScimError::invalid_syntax(format!("{} needs a 'value'", op.as_str())))
}

fn apply_at(
    res: &mut Map<String, Value>,
    op: PatchOp,
    path: &AttrPath,
    filter: Option<&Filter>,
    value: Option<&Value>,
    schema: &ResourceSchema,
) -> Result<(), ScimError> {
    if filter.is_none() {
        if let Some(ext) = schema.extension_for_path(path) {
            let urn = ext.id.clone();
            return match (op, value) {
                (PatchOp::Remove, _) | (_, Some(Value::Null)) => {
                    take_ci(res, &urn);
                    Ok(())
                }
                (_, v) => apply_schema_object(res, op, &urn, required_value(v, op)?, schema),
            };
        }
    }
    let loc = schema.locate(path).ok_or_else(|| {
        ScimError::invalid_path(format!("'{path}' is not an attribute of this resource"))
    })?;
    check_mutability(&loc, op)?;
    let label = loc.full_path();
    with_container(res, &loc, |container| {
        let current = take_ci(container, &loc.attr.name);
        let before = current.clone();
        let result = match (filter, loc.sub) {
            (None, None) => whole(current, op, loc.attr, value, &label),
            (None, Some(sub)) => sub_without_filter(current, op, loc.attr, sub, value, &label),
            (Some(f), sub) => filtered(current, op, loc.attr, f, sub, value, &label),
        };
        let after = match result {
            Ok(after) => after,
            Err(e) => {
                if let Some(b) = before {
                    container.insert(loc.attr.name.clone(), b);
                }
                return Err(e);
            }
        };
        if loc.attr.mutability == Mutability::Immutable && before.is_some() && after != before {
            return Err(ScimError::mutability(format!("'{label}' is immutable")));
        }
        if let Some(v) = after {
            container.insert(loc.attr.name.clone(), v);
        }
        Ok(())
    })
}

/// Whether `new` names `existing`: equal, or every member of `new` (an
/// object) is in `existing` (so `{"value": id}` names a member with that id).
fn same_element(existing: &Value, new: &Value) -> bool {
    if existing == new {
        return true;
    }
    match (existing, new) {
        (Value::Object(e), Value::Object(n)) => {
            !n.is_empty() && n.iter().all(|(k, v)| get_ci(e, k) == Some(v))
        }
        _ => false,
    }
}

fn non_empty_array(items: Vec<Value>) -> Option<Value> {
    (!items.is_empty()).then_some(Value::Array(items))
}

fn into_elements(current: Option<Value>) -> Vec<Value> {
    match current {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

fn is_non_empty_element(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Null => false,
        _ => true,
    }
}

/// When a newly written element is `primary`, the others stop being primary
/// (RFC 7643 §2.4: at most one primary value).
fn demote_other_primaries(items: &mut [Value], new_items: &[Value]) {
    let Some(primary) = new_items
        .iter()
        .find(|v| v.get("primary") == Some(&Value::Bool(true)))
    else {
        return;
    };
    for item in items.iter_mut() {
        if item != primary {
            if let Some(Value::Bool(p)) = item.as_object_mut().and_then(|m| m.get_mut("primary")) {
                *p = false;
            }
        }
    }
}

fn whole(
    current: Option<Value>,
    op: PatchOp,
    attr: &AttributeDef,
    value: Option<&Value>,
    label: &str,
) -> Result<Option<Value>, ScimError> {
    if op == PatchOp::Remove {
        // Entra: `{"op":"Remove","path":"members","value":[{"value":id}]}`
        // removes only the listed values.
        if let (true, Some(v)) = (attr.multi_valued, value) {
            let Some(Value::Array(listed)) = coerce(attr, v, label)? else {
                return Ok(None);
            };
            let kept: Vec<Value> = into_elements(current)
                .into_iter()
                .filter(|e| !listed.iter().any(|l| same_element(e, l)))
                .collect();
            return Ok(non_empty_array(kept));
        }
        return Ok(None);
    }
    let new = coerce(attr, required_value(value, op)?, label)?;
    if attr.multi_valued {
        return Ok(match (op, new) {
            (PatchOp::Add, None) => current,
            (PatchOp::Add, Some(Value::Array(items))) => {
                let mut all = into_elements(current);
                for item in &items {
                    if !all.iter().any(|e| same_element(e, item)) {
                        all.push(item.clone());
                    }
                }
                demote_other_primaries(&mut all, &items);
                non_empty_array(all)
            }
            (_, new) => new,
        });
    }
    Ok(match (attr.type_, current, new) {
        // RFC 7644 §3.5.2.1/3: sub-attributes not given are left unchanged.
        (AttrType::Complex, Some(Value::Object(mut old)), Some(Value::Object(m))) => {
            old.extend(m);
            Some(Value::Object(old))
        }
        (_, _, new) => new,
    })
}

fn sub_without_filter(
    current: Option<Value>,
    op: PatchOp,
    attr: &AttributeDef,
    sub: &AttributeDef,
    value: Option<&Value>,
    label: &str,
) -> Result<Option<Value>, ScimError> {
    let new = match op {
        PatchOp::Remove => None,
        _ => coerce(sub, required_value(value, op)?, label)?,
    };
    if attr.multi_valued {
        let mut items = into_elements(current);
        if items.is_empty() {
            if let Some(v) = new {
                let mut m = Map::new();
                m.insert(sub.name.clone(), v);
                items.push(Value::Object(m));
            }
        } else {
            for item in &mut items {
                if let Value::Object(m) = item {
                    take_ci(m, &sub.name);
                    if let Some(v) = &new {
                        m.insert(sub.name.clone(), v.clone());
                    }
                }
            }
            items.retain(is_non_empty_element);
        }
        return Ok(non_empty_array(items));
    }
    let mut m = match current {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    take_ci(&mut m, &sub.name);
    if let Some(v) = new {
        m.insert(sub.name.clone(), v);
    }
    Ok((!m.is_empty()).then_some(Value::Object(m)))
}

/// The element a filter of `eq` terms joined by `and` describes
/// (`type eq "work"` gives `{"type": "work"}`), used to create the element
/// a value-filter path names when none exists yet.
fn filter_template(filter: &Filter, attr: &AttributeDef) -> Option<Map<String, Value>> {
    fn fill(f: &Filter, attr: &AttributeDef, out: &mut Map<String, Value>) -> bool {
        match f {
            Filter::And(a, b) => fill(a, attr, out) && fill(b, attr, out),
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } if path.schema.is_none() && path.sub_attr.is_none() => {
                let Some(sub) = attr.sub_attribute(&path.name) else {
                    return false;
                };
                let raw = match value {
                    CompValue::String(s) => Value::String(s.clone()),
                    CompValue::Number(n) => Value::Number(n.clone()),
                    CompValue::Bool(b) => Value::Bool(*b),
                    CompValue::Null => return false,
                };
                match coerce(sub, &raw, &sub.name) {
                    Ok(Some(v)) => {
                        out.insert(sub.name.clone(), v);
                        true
                    }
                    _ => false,
                }
            }
            _ => false,
        }
    }
    let mut out = Map::new();
    fill(filter, attr, &mut out).then_some(out)
}

fn filtered(
    current: Option<Value>,
    op: PatchOp,
    attr: &AttributeDef,
    filter: &Filter,
    sub: Option<&AttributeDef>,
    value: Option<&Value>,
    label: &str,
) -> Result<Option<Value>, ScimError> {
    if attr.type_ != AttrType::Complex {
        return Err(ScimError::invalid_path(format!(
            "'{label}': a value filter needs a complex attribute"
        )));
    }
    let mut items = into_elements(current);
    let matched: Vec<bool> = items
        .iter()
        .map(|e| filter.matches_element(e, Some(attr)))
        .collect();
    let any_matched = matched.iter().any(|m| *m);
    let no_target =
        || ScimError::no_target(format!("no value of '{}' matches [{filter}]", attr.name));
    match (op, sub) {
        (PatchOp::Remove, None) => {
            if !any_matched {
                return Err(no_target());
            }
            items = items
                .into_iter()
                .zip(&matched)
                .filter(|(_, m)| !**m)
                .map(|(e, _)| e)
                .collect();
        }
        (PatchOp::Remove, Some(sub)) => {
            if !any_matched {
                return Err(no_target());
            }
            for (item, m) in items.iter_mut().zip(&matched) {
                if let (true, Value::Object(obj)) = (*m, item) {
                    take_ci(obj, &sub.name);
                }
            }
        }
        (_, None) => {
            let raw = required_value(value, op)?;
            let new = coerce_single(attr, raw, label)?;
            if any_matched {
                let mut kept = Vec::with_capacity(items.len());
                for (item, m) in items.into_iter().zip(&matched) {
                    if !*m {
                        kept.push(item);
                        continue;
                    }
                    match (op, item, &new) {
                        (PatchOp::Add, Value::Object(mut old), Some(Value::Object(n))) => {
                            old.extend(n.clone());
                            kept.push(Value::Object(old));
                        }
                        (PatchOp::Add, old, None) => kept.push(old),
                        (_, _, Some(n)) => kept.push(n.clone()),
                        (_, _, None) => {}
                    }
                }
                items = kept;
            } else {
                let mut element = filter_template(filter, attr).ok_or_else(no_target)?;
                if let Some(Value::Object(n)) = new {
                    element.extend(n);
                    items.push(Value::Object(element));
                }
            }
        }
        (_, Some(sub)) => {
            let new = coerce(sub, required_value(value, op)?, label)?;
            if any_matched {
                for (item, m) in items.iter_mut().zip(&matched) {
                    if let (true, Value::Object(obj)) = (*m, item) {
                        take_ci(obj, &sub.name);
                        if let Some(v) = &new {
                            obj.insert(sub.name.clone(), v.clone());
                        }
                    }
                }
            } else {
                let mut element = filter_template(filter, attr).ok_or_else(no_target)?;
                if let Some(v) = new {
                    element.insert(sub.name.clone(), v);
                    items.push(Value::Object(element));
                }
            }
        }
    }
    items.retain(is_non_empty_element);
    if attr.multi_valued {
        Ok(non_empty_array(items))
    } else {
        Ok(items.into_iter().next())
    }
}

// ------------------------------------------------------------ membership

/// Group membership changes expressed without the current member list.
///
/// Apply as: when `replace` is set, the members become exactly that list;
/// otherwise, when `remove_all` is set, every member is removed first; then
/// `remove` is removed and `add` is added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberDelta {
    /// The complete new member list, when an operation replaced it.
    pub replace: Option<Vec<String>>,
    /// Member ids to add.
    pub add: Vec<String>,
    /// Member ids to remove.
    pub remove: Vec<String>,
    /// Whether all current members are removed first.
    pub remove_all: bool,
}

impl MemberDelta {
    /// Whether the delta changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.replace.is_none() && self.add.is_empty() && self.remove.is_empty() && !self.remove_all
    }

    fn add_ids(&mut self, ids: Vec<String>) {
        for id in ids {
            self.remove.retain(|r| r != &id);
            let list = self.replace.as_mut().unwrap_or(&mut self.add);
            if !list.contains(&id) {
                list.push(id);
            }
        }
    }

    fn remove_ids(&mut self, ids: Vec<String>) {
        for id in ids {
            self.add.retain(|a| a != &id);
            if let Some(list) = self.replace.as_mut() {
                list.retain(|a| a != &id);
            } else if !self.remove_all && !self.remove.contains(&id) {
                self.remove.push(id);
            }
        }
    }

    fn remove_every(&mut self) {
        *self = MemberDelta {
            remove_all: true,
            ..MemberDelta::default()
        };
    }

    fn replace_with(&mut self, ids: Vec<String>) {
        let mut unique: Vec<String> = Vec::with_capacity(ids.len());
        for id in ids {
            if !unique.contains(&id) {
                unique.push(id);
            }
        }
        *self = MemberDelta {
            replace: Some(unique),
            ..MemberDelta::default()
        };
    }
}

enum MemberAction {
    Add(Vec<String>),
    Remove(Vec<String>),
    RemoveAll,
    Replace(Vec<String>),
}

fn is_members_path(path: &AttrPath) -> bool {
    path.name.eq_ignore_ascii_case("members")
        && path
            .schema
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(GROUP_SCHEMA))
}

/// Member ids from `[{"value": id, …}, …]` (or one such object).
fn member_ids(value: &Value) -> Option<Vec<String>> {
    let items: Vec<&Value> = match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    items
        .into_iter()
        .map(|item| {
            let obj = item.as_object()?;
            let id = get_ci(obj, "value")?.as_str()?;
            (!id.is_empty()).then(|| id.to_owned())
        })
        .collect()
}

/// Member ids from `value eq "a" or value eq "b"`.
fn filter_ids(filter: &Filter) -> Option<Vec<String>> {
    filter
        .disjuncts()
        .into_iter()
        .map(|term| match term.as_eq_string() {
            Some((path, id))
                if path.schema.is_none()
                    && path.sub_attr.is_none()
                    && path.name.eq_ignore_ascii_case("value") =>
            {
                Some(id.to_owned())
            }
            _ => None,
        })
        .collect()
}

enum Split {
    Other(PatchOperation),
    Members(MemberAction, Option<PatchOperation>),
    Inexpressible,
}

fn classify(op: &PatchOperation) -> Split {
    match &op.path {
        Some(path) if is_members_path(&path.attr) => {
            let plain = path.filter.is_none() && path.attr.sub_attr.is_none();
            let action = match (op.op, plain, &path.filter, &op.value) {
                (PatchOp::Add, true, _, Some(v)) => member_ids(v).map(MemberAction::Add),
                (PatchOp::Replace, true, _, Some(v)) => member_ids(v).map(MemberAction::Replace),
                (PatchOp::Remove, true, _, None | Some(Value::Null)) => {
                    Some(MemberAction::RemoveAll)
                }
                (PatchOp::Remove, true, _, Some(v)) => member_ids(v).map(MemberAction::Remove),
                (PatchOp::Remove, false, Some(f), _) if path.attr.sub_attr.is_none() => {
                    filter_ids(f).map(MemberAction::Remove)
                }
                _ => None,
            };
            action.map_or(Split::Inexpressible, |a| Split::Members(a, None))
        }
        Some(_) => Split::Other(op.clone()),
        None => {
            let Some(Value::Object(obj)) = &op.value else {
                return Split::Other(op.clone());
            };
            let Some(key) = obj
                .keys()
                .find(|k| k.eq_ignore_ascii_case("members"))
                .cloned()
            else {
                return Split::Other(op.clone());
            };
            let mut rest = obj.clone();
            let members = rest.remove(&key).unwrap_or(Value::Null);
            let Some(ids) = member_ids(&members) else {
                return Split::Inexpressible;
            };
            let action = match op.op {
                PatchOp::Add => MemberAction::Add(ids),
                PatchOp::Replace => MemberAction::Replace(ids),
                PatchOp::Remove => return Split::Inexpressible,
            };
            let rest_op = (!rest.is_empty()).then_some(PatchOperation {
                op: op.op,
                path: None,
                value: Some(Value::Object(rest)),
            });
            Split::Members(action, rest_op)
        }
    }
}

/// Separates group-membership operations from the others.
///
/// Every members form Entra and RFC 7644 use becomes part of the
/// [`MemberDelta`]: add with a value array, replace, remove with a value
/// array, remove `members[value eq "id"]` (also `or`-ed), remove `members`
/// without a value (all), and a `members` key in a path-less add/replace.
/// The other operations are returned in order. When any members operation
/// cannot be expressed as a delta, the delta is empty and every operation is
/// returned, so the caller applies them all in order with [`apply_patch`].
#[must_use]
pub fn split_member_ops(ops: &[PatchOperation]) -> (MemberDelta, Vec<PatchOperation>) {
    let mut delta = MemberDelta::default();
    let mut rest = Vec::new();
    for op in ops {
        match classify(op) {
            Split::Inexpressible => return (MemberDelta::default(), ops.to_vec()),
            Split::Other(op) => rest.push(op),
            Split::Members(action, rest_op) => {
                match action {
                    MemberAction::Add(ids) => delta.add_ids(ids),
                    MemberAction::Remove(ids) => delta.remove_ids(ids),
                    MemberAction::RemoveAll => delta.remove_every(),
                    MemberAction::Replace(ids) => delta.replace_with(ids),
                }
                rest.extend(rest_op);
            }
        }
    }
    (delta, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};
    use serde_json::json;

    fn ops(body: &Value) -> Vec<PatchOperation> {
        match parse_patch_request(body) {
            Ok(r) => r.operations,
            Err(e) => panic!("{e}"),
        }
    }

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA],
            "id": "u1",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@work.example", "type": "work", "primary": true}],
            "meta": {"resourceType": "User"}
        })
    }

    fn patch(resource: &Value, body: &Value) -> Result<PatchOutcome, ScimError> {
        apply_patch(resource, &ops(body), &ResourceSchema::user())
    }

    #[test]
    fn path_display_round_trips() {
        for s in [
            "emails[type eq \"work\"].value",
            "members[value eq \"a\" or value eq \"b\"]",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            "name.givenName",
        ] {
            let p = PatchPath::parse(s).expect(s);
            assert_eq!(p.to_string(), s);
            assert_eq!(PatchPath::parse(&p.to_string()), Ok(p));
        }
        for bad in [
            "emails[",
            "emails[type eq \"work\"]x",
            "a.b.c",
            "emails[type eq \"w\"].",
            "",
        ] {
            let e = PatchPath::parse(bad).expect_err(bad);
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{bad}");
        }
    }

    #[test]
    fn request_validation() {
        let bad = [
            json!([]),
            json!({"Operations": []}),
            json!({"Operations": [{"op": "move", "path": "x"}]}),
            json!({"Operations": [{"op": "add", "path": "x"}]}),
            json!({"schemas": ["urn:x"], "Operations": [{"op": "add", "value": {}}]}),
            json!({"Operations": [{"op": "add", "path": 3, "value": 1}]}),
        ];
        for b in bad {
            assert!(parse_patch_request(&b).is_err(), "{b}");
        }
        let e =
            parse_patch_request(&json!({"Operations": [{"op": "remove"}]})).expect_err("no path");
        assert_eq!(e.scim_type, Some(ScimType::NoTarget));
        let r: PatchRequest = serde_json::from_value(json!({
            "schemas": [PATCH_OP],
            "operations": [{"OP": "REPLACE", "Path": "userName", "Value": "x"}]
        }))
        .expect("deserialises");
        assert_eq!(r.operations[0].op, PatchOp::Replace);
    }

    #[test]
    fn id_meta_and_groups_are_read_only() {
        for path in ["id", "meta.created", "meta", "groups"] {
            let body = json!({"Operations": [{"op": "replace", "path": path, "value": "x"}]});
            let e = patch(&user(), &body).expect_err(path);
            assert_eq!(e.scim_type, Some(ScimType::Mutability), "{path}");
        }
        let body = json!({"Operations": [{"op": "replace", "value": {"id": "other"}}]});
        assert_eq!(
            patch(&user(), &body).expect_err("id").scim_type,
            Some(ScimType::Mutability)
        );
    }

    #[test]
    fn unknown_paths_are_invalid_path_and_unmatched_filters_no_target() {
        let body =
            json!({"Operations": [{"op": "replace", "path": "favouriteColour", "value": "x"}]});
        assert_eq!(
            patch(&user(), &body).expect_err("x").scim_type,
            Some(ScimType::InvalidPath)
        );
        let body =
            json!({"Operations": [{"op": "replace", "path": "name.nickname", "value": "x"}]});
        assert_eq!(
            patch(&user(), &body).expect_err("x").scim_type,
            Some(ScimType::InvalidPath)
        );
        let body = json!({"Operations": [{"op": "remove", "path": "emails[type eq \"home\"]"}]});
        assert_eq!(
            patch(&user(), &body).expect_err("x").scim_type,
            Some(ScimType::NoTarget)
        );
        let body = json!({"Operations": [{"op": "replace", "path": "emails[value co \"zzz\"].value", "value": "y"}]});
        assert_eq!(
            patch(&user(), &body).expect_err("x").scim_type,
            Some(ScimType::NoTarget)
        );
    }

    #[test]
    fn required_attribute_cannot_be_removed() {
        let body = json!({"Operations": [{"op": "remove", "path": "userName"}]});
        assert_eq!(
            patch(&user(), &body).expect_err("x").scim_type,
            Some(ScimType::InvalidValue)
        );
    }

    #[test]
    fn add_to_multi_valued_appends_without_duplicates_and_keeps_one_primary() {
        let body = json!({"Operations": [{"op": "add", "path": "emails", "value": [
            {"value": "b@work.example", "type": "work"},
            {"value": "b@home.example", "type": "home", "primary": true}
        ]}]});
        let out = patch(&user(), &body).expect("ok");
        assert_eq!(
            out.resource["emails"],
            json!([
                {"value": "b@work.example", "type": "work", "primary": false},
                {"value": "b@home.example", "type": "home", "primary": true}
            ])
        );
        assert_eq!(out.changed_attributes, vec!["emails".to_owned()]);
    }

    #[test]
    fn replace_of_complex_keeps_unspecified_sub_attributes() {
        let body = json!({"Operations": [{"op": "replace", "path": "name", "value": {"givenName": "Babs"}}]});
        let out = patch(&user(), &body).expect("ok");
        assert_eq!(
            out.resource["name"],
            json!({"givenName": "Babs", "familyName": "Jensen"})
        );
    }

    #[test]
    fn unchanged_patch_reports_no_change() {
        let body =
            json!({"Operations": [{"op": "replace", "path": "userName", "value": "bjensen"}]});
        let out = patch(&user(), &body).expect("ok");
        assert!(!out.changed);
        assert_eq!(out.resource, user());
    }

    #[test]
    fn extension_object_path_and_schemas_bookkeeping() {
        let body = json!({"Operations": [{"op": "add", "path": ENTERPRISE_USER_SCHEMA, "value": {"department": "R&D"}}]});
        let out = patch(&user(), &body).expect("ok");
        assert_eq!(
            out.resource["schemas"],
            json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA])
        );
        assert_eq!(
            out.changed_attributes,
            vec![format!("{ENTERPRISE_USER_SCHEMA}:department")]
        );
        let body = json!({"Operations": [{"op": "remove", "path": format!("{ENTERPRISE_USER_SCHEMA}:department")}]});
        let back = patch(&out.resource, &body).expect("ok");
        assert_eq!(back.resource, user());
    }

    #[test]
    fn member_delta_folds_operations_in_order() {
        let body = json!({"Operations": [
            {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
            {"op": "remove", "path": "members[value eq \"b\" or value eq \"c\"]"},
            {"op": "replace", "path": "displayName", "value": "G"}
        ]});
        let (delta, rest) = split_member_ops(&ops(&body));
        assert_eq!(delta.add, vec!["a".to_owned()]);
        // b may have been a member before the request: it must end up removed.
        assert_eq!(delta.remove, vec!["b".to_owned(), "c".to_owned()]);
        assert_eq!(rest.len(), 1);
        let body = json!({"Operations": [
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [{"value": "x"}]}
        ]});
        let (delta, rest) = split_member_ops(&ops(&body));
        assert!(delta.remove_all && delta.add == vec!["x".to_owned()] && rest.is_empty());
        let body = json!({"Operations": [
            {"op": "replace", "value": {"displayName": "G", "members": [{"value": "m"}]}},
            {"op": "add", "path": "members", "value": [{"value": "n"}]}
        ]});
        let (delta, rest) = split_member_ops(&ops(&body));
        assert_eq!(delta.replace, Some(vec!["m".to_owned(), "n".to_owned()]));
        assert_eq!(rest[0].value, Some(json!({"displayName": "G"})));
        let body = json!({"Operations": [
            {"op": "add", "path": "members", "value": [{"value": "a"}]},
            {"op": "remove", "path": "members[display eq \"x\"]"}
        ]});
        let all = ops(&body);
        let (delta, rest) = split_member_ops(&all);
        assert!(delta.is_empty());
        assert_eq!(rest, all);
    }
}
