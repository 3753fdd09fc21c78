//! Filter evaluation against canonical SCIM JSON (RFC 7644 §3.4.2.2).
//!
//! [`eval`] decides whether a resource, or one element of a complex
//! attribute, satisfies a [`Filter`]. String comparison honours `caseExact`,
//! `dateTime` attributes compare as instants, a multi-valued attribute
//! matches when any value does and `ne` holds when no value is equal.
//! Invariant: evaluation is total — a value of the wrong type, a missing
//! attribute or an attribute the schema does not know makes a comparison
//! false (or `ne` true), never an error or a panic.

use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::{CompValue, CompareOp, Filter};
use crate::scim::path::{get_ci, AttrPath};
use crate::scim::schema::{AttrType, AttributeDef, ResourceSchema};

/// What a filter's paths are relative to.
#[derive(Clone, Copy)]
pub(super) enum Scope<'s> {
    Resource(&'s ResourceSchema),
    Complex(Option<&'s AttributeDef>),
}

fn push_flat<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    match v {
        Value::Array(items) => out.extend(items.iter()),
        other => out.push(other),
    }
}

/// The definition and the values `path` selects in `obj`; arrays are
/// flattened, so a multi-valued attribute yields one entry per element.
fn lookup<'v, 's>(
    obj: &'v Value,
    path: &AttrPath,
    scope: Scope<'s>,
) -> (Option<&'s AttributeDef>, Vec<&'v Value>) {
    let Some(map) = obj.as_object() else {
        return (None, Vec::new());
    };
    let (attr_def, sub_def, top) = match scope {
        Scope::Resource(schema) => {
            if let Some(loc) = schema.locate(path) {
                let container = if loc.is_core {
                    Some(map)
                } else {
                    get_ci(map, &loc.schema.id).and_then(Value::as_object)
                };
                (
                    Some(loc.attr),
                    loc.sub,
                    container.and_then(|c| get_ci(c, &loc.attr.name)),
                )
            } else {
                // Not in the schema: read it raw, compare case-insensitively.
                let container = match path.schema.as_deref() {
                    Some(urn) => get_ci(map, urn).and_then(Value::as_object),
                    None => Some(map),
                };
                (None, None, container.and_then(|c| get_ci(c, &path.name)))
            }
        }
        Scope::Complex(parent) => {
            let def = parent.and_then(|p| p.sub_attribute(&path.name));
            (def, None, get_ci(map, &path.name))
        }
    };
    let mut values = Vec::new();
    if let Some(top) = top {
        push_flat(top, &mut values);
    }
    match path.sub_attr.as_deref() {
        None => (attr_def, values),
        Some(sub) => {
            let mut subs = Vec::new();
            for v in values {
                if let Some(sv) = v.as_object().and_then(|m| get_ci(m, sub)) {
                    push_flat(sv, &mut subs);
                }
            }
            (sub_def, subs)
        }
    }
}

pub(super) fn eval(f: &Filter, obj: &Value, scope: Scope<'_>) -> bool {
    match f {
        Filter::And(a, b) => eval(a, obj, scope) && eval(b, obj, scope),
        Filter::Or(a, b) => eval(a, obj, scope) || eval(b, obj, scope),
        Filter::Not(a) => !eval(a, obj, scope),
        Filter::Present { path } => lookup(obj, path, scope).1.into_iter().any(is_present),
        Filter::Compare { path, op, value } => {
            let (def, values) = lookup(obj, path, scope);
            compare_any(&values, def, *op, value)
        }
        Filter::ValuePath(vp) => {
            let (def, elements) = lookup(obj, &vp.attr, scope);
            elements
                .into_iter()
                .any(|el| eval(&vp.filter, el, Scope::Complex(def)))
        }
    }
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare_any(
    values: &[&Value],
    def: Option<&AttributeDef>,
    op: CompareOp,
    cv: &CompValue,
) -> bool {
    match (op, cv) {
        (CompareOp::Ne, _) => !compare_any(values, def, CompareOp::Eq, cv),
        (CompareOp::Eq, CompValue::Null) => values.iter().all(|v| v.is_null()),
        (_, CompValue::Null) => false,
        _ => values.iter().any(|v| compare_one(v, def, op, cv)),
    }
}

fn ordering_holds(ord: Ordering, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn number_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn compare_one(v: &Value, def: Option<&AttributeDef>, op: CompareOp, cv: &CompValue) -> bool {
    // A complex value compared without a sub-attribute compares its `value`.
    let (v, def) = match v {
        Value::Object(m) => match get_ci(m, "value") {
            Some(inner) => (inner, def.and_then(|d| d.sub_attribute("value"))),
            None => return false,
        },
        other => (other, def),
    };
    match (v, cv) {
        (Value::String(a), CompValue::String(b)) => compare_strings(a, b, def, op),
        (Value::Number(a), CompValue::Number(b)) => {
            number_cmp(a, b).is_some_and(|ord| ordering_holds(ord, op))
        }
        (Value::Bool(a), CompValue::Bool(b)) => match op {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            _ => false,
        },
        _ => false,
    }
}

fn compare_strings(a: &str, b: &str, def: Option<&AttributeDef>, op: CompareOp) -> bool {
    let is_date = def.is_some_and(|d| d.type_ == AttrType::DateTime);
    if is_date && !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
        if let (Ok(x), Ok(y)) = (
            chrono::DateTime::parse_from_rfc3339(a),
            chrono::DateTime::parse_from_rfc3339(b),
        ) {
            return ordering_holds(x.cmp(&y), op);
        }
    }
    let case_exact = def.is_some_and(|d| d.case_exact);
    let (a, b) = if case_exact {
        (a.to_owned(), b.to_owned())
    } else {
        (a.to_lowercase(), b.to_lowercase())
    };
    match op {
        CompareOp::Co => a.contains(&b),
        CompareOp::Sw => a.starts_with(&b),
        CompareOp::Ew => a.ends_with(&b),
        _ => ordering_holds(a.cmp(&b), op),
    }
}
