//! Applying PATCH operations to a canonical SCIM JSON resource (RFC 7644
//! §3.5.2.1–3).
//!
//! [`apply_patch`] resolves each operation's path against the schema, checks
//! mutability, and rewrites the attribute's value: whole, one sub-attribute,
//! or the elements a value filter selects. Invariants: operations apply in
//! order to a copy, so a failing request leaves nothing half-applied; a path
//! the schema does not define is `invalidPath`; a value filter matching
//! nothing (where no element can be created from it) is `noTarget`.

use serde_json::{Map, Value};

use super::{PatchOp, PatchOperation};
use crate::scim::error::ScimError;
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::path::{get_ci, parse_attr_path, take_ci, AttrPath};
use crate::scim::resource::{coerce, coerce_single, tidy_extensions, with_container};
use crate::scim::schema::{AttrType, AttributeDef, Located, Mutability, ResourceSchema};

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
        let prior = primary_values(&res, schema);
        apply_op(&mut res, op, schema).map_err(|mut e| {
            e.detail = format!("operation {}: {}", i + 1, e.detail);
            e
        })?;
        keep_one_primary(&prior, &mut res);
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

fn is_primary(v: &Value) -> bool {
    v.get("primary").and_then(Value::as_bool) == Some(true)
}

/// The values flagged `primary`, per multi-valued attribute that has the
/// flag: all [`keep_one_primary`] needs of the resource before an operation
/// (a copy of a few values, not of the resource).
fn primary_values(res: &Map<String, Value>, schema: &ResourceSchema) -> Vec<(String, Vec<Value>)> {
    schema
        .core
        .attributes
        .iter()
        .filter(|attr| attr.multi_valued && attr.sub_attribute("primary").is_some())
        .map(|attr| {
            let flagged = get_ci(res, &attr.name)
                .and_then(Value::as_array)
                .map(|items| items.iter().filter(|v| is_primary(v)).cloned().collect())
                .unwrap_or_default();
            (attr.name.clone(), flagged)
        })
        .collect()
}

/// RFC 7644 §3.5.2: an operation that makes a value `primary` clears the
/// flag on the values that had it before (`prior`, from
/// [`primary_values`]), so at most one stays primary.
fn keep_one_primary(prior: &[(String, Vec<Value>)], res: &mut Map<String, Value>) {
    for (name, was_primary) in prior {
        let Some(Value::Array(items)) = res.get_mut(name) else {
            continue;
        };
        if items.iter().filter(|v| is_primary(v)).count() < 2 {
            continue;
        }
        for item in items.iter_mut() {
            if is_primary(item) && was_primary.contains(item) {
                if let Some(obj) = item.as_object_mut() {
                    obj.insert("primary".to_owned(), Value::Bool(false));
                }
            }
        }
    }
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
        // An extension object may repeat its own `schemas` (RFC 7644
        // §3.5.2.1 shows the value as the extension's JSON); the resource's
        // `schemas` is bookkeeping the engine keeps itself.
        if k.eq_ignore_ascii_case("schemas") {
            continue;
        }
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
