//! Resource values: type checking and coercion against attribute definitions,
//! and normalisation of POST/PUT bodies (RFC 7644 §3.3, §3.5.1).
//!
//! [`normalize_input`] turns a body in Entra's dialect into canonical SCIM
//! JSON: attribute names in their schema spelling, extensions nested under
//! their URN, `"True"`/`"False"` coerced only where the schema says boolean,
//! read-only and unknown attributes dropped, `schemas` rebuilt from what is
//! present. Invariant: the output only holds attributes the schema defines,
//! each with a value of its declared type, and never an `id` or `meta`.

use chrono::DateTime;
use serde_json::{json, Map, Value};

use super::error::ScimError;
use super::path::{get_ci, parse_attr_path, take_ci, AttrPath};
use super::schema::{AttrType, AttributeDef, Located, Mutability, ResourceSchema};

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn type_error(label: &str, expected: &str, got: &Value) -> ScimError {
    ScimError::invalid_value(format!(
        "attribute '{label}' expects {expected}, got {}",
        kind_of(got)
    ))
}

/// Coerces `value` to the type `def` declares. `Ok(None)` means "no value"
/// (null, empty string, empty array or object), which clears the attribute.
pub(crate) fn coerce(
    def: &AttributeDef,
    value: &Value,
    label: &str,
) -> Result<Option<Value>, ScimError> {
    if def.multi_valued {
        let items: Vec<&Value> = match value {
            Value::Null => return Ok(None),
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        let mut out: Vec<Value> = Vec::new();
        for item in items {
            if let Some(v) = coerce_single(def, item, label)? {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
        }
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    if let Value::Array(items) = value {
        return match items.as_slice() {
            [] => Ok(None),
            [only] => coerce_single(def, only, label),
            _ => Err(ScimError::invalid_value(format!(
                "attribute '{label}' is single-valued, got an array"
            ))),
        };
    }
    coerce_single(def, value, label)
}

/// Coerces one value (one element of a multi-valued attribute).
pub(crate) fn coerce_single(
    def: &AttributeDef,
    value: &Value,
    label: &str,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    match def.type_ {
        AttrType::Complex => match value {
            Value::Object(m) => {
                let mut out = Map::new();
                for (k, v) in m {
                    let Some(sub) = def.sub_attribute(k) else {
                        continue;
                    };
                    if sub.mutability == Mutability::ReadOnly {
                        continue;
                    }
                    let sub_label = format!("{label}.{}", sub.name);
                    if let Some(cv) = coerce(sub, v, &sub_label)? {
                        out.insert(sub.name.clone(), cv);
                    }
                }
                Ok((!out.is_empty()).then_some(Value::Object(out)))
            }
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                // A bare value for a complex attribute with a `value`
                // sub-attribute (Entra's `manager`): `{"value": …}`.
                let Some(sub) = def.sub_attribute("value") else {
                    return Err(type_error(label, "an object", value));
                };
                let sub_label = format!("{label}.{}", sub.name);
                Ok(coerce(sub, value, &sub_label)?.map(|v| json!({ "value": v })))
            }
            _ => Err(type_error(label, "an object", value)),
        },
        AttrType::Boolean => match value {
            Value::Bool(_) => Ok(Some(value.clone())),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => {
                Ok(Some(Value::Bool(true)))
            }
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => {
                Ok(Some(Value::Bool(false)))
            }
            Value::String(s) if s.trim().is_empty() => Ok(None),
            _ => Err(type_error(label, "a boolean", value)),
        },
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(_) => Ok(Some(value.clone())),
            _ => Err(type_error(label, "a string", value)),
        },
        AttrType::DateTime => match value {
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) if DateTime::parse_from_rfc3339(s).is_ok() => Ok(Some(value.clone())),
            _ => Err(type_error(label, "an RFC 3339 dateTime string", value)),
        },
        AttrType::Integer => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Some(value.clone())),
            _ => Err(type_error(label, "an integer", value)),
        },
        AttrType::Decimal => match value {
            Value::Number(_) => Ok(Some(value.clone())),
            _ => Err(type_error(label, "a number", value)),
        },
    }
}

/// Runs `f` on the object holding `loc`'s attribute: the resource itself for
/// core attributes, the extension object (created when absent) otherwise.
/// Empty extension objects left behind are removed by [`tidy_extensions`].
pub(crate) fn with_container<R>(
    res: &mut Map<String, Value>,
    loc: &Located<'_>,
    f: impl FnOnce(&mut Map<String, Value>) -> R,
) -> R {
    if loc.is_core {
        return f(res);
    }
    let mut ext = match take_ci(res, &loc.schema.id) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let out = f(&mut ext);
    res.insert(loc.schema.id.clone(), Value::Object(ext));
    out
}

/// Drops empty extension objects and makes `schemas` list the core schema
/// and exactly the extensions present (other URNs are left alone).
pub(crate) fn tidy_extensions(res: &mut Map<String, Value>, schema: &ResourceSchema) {
    let mut schemas: Vec<Value> = match res.get("schemas") {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let listed = |schemas: &[Value], urn: &str| {
        schemas
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
    };
    if !listed(&schemas, &schema.core.id) {
        schemas.insert(0, Value::String(schema.core.id.clone()));
    }
    for ext in &schema.extensions {
        let present = match take_ci(res, &ext.id) {
            Some(Value::Object(m)) if !m.is_empty() => {
                res.insert(ext.id.clone(), Value::Object(m));
                true
            }
            _ => false,
        };
        let is_listed = listed(&schemas, &ext.id);
        if present && !is_listed {
            schemas.push(Value::String(ext.id.clone()));
        } else if !present && is_listed {
            schemas.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&ext.id)));
        }
    }
    if res.get("schemas") != Some(&Value::Array(schemas.clone())) {
        res.insert("schemas".to_owned(), Value::Array(schemas));
    }
}

fn place(
    out: &mut Map<String, Value>,
    path: &AttrPath,
    value: &Value,
    schema: &ResourceSchema,
) -> Result<(), ScimError> {
    if let Some(ext) = schema.extension_for_path(path) {
        return place_schema_object(out, &ext.id.clone(), value, schema);
    }
    // Attributes the schema does not define are ignored, as are read-only
    // ones (RFC 7644 §3.5.1: the server ignores read-only values).
    let Some(loc) = schema.locate(path) else {
        return Ok(());
    };
    if loc.attr.mutability == Mutability::ReadOnly
        || loc
            .sub
            .is_some_and(|s| s.mutability == Mutability::ReadOnly)
    {
        return Ok(());
    }
    let label = loc.full_path();
    match loc.sub {
        None => {
            let Some(v) = coerce(loc.attr, value, &label)? else {
                return Ok(());
            };
            with_container(out, &loc, |c| match (take_ci(c, &loc.attr.name), v) {
                (Some(Value::Object(mut old)), Value::Object(new)) if !loc.attr.multi_valued => {
                    old.extend(new);
                    c.insert(loc.attr.name.clone(), Value::Object(old));
                }
                (_, v) => {
                    c.insert(loc.attr.name.clone(), v);
                }
            });
        }
        Some(sub) => {
            if loc.attr.multi_valued {
                return Ok(());
            }
            let Some(v) = coerce(sub, value, &label)? else {
                return Ok(());
            };
            with_container(out, &loc, |c| {
                let mut obj = match take_ci(c, &loc.attr.name) {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                obj.insert(sub.name.clone(), v);
                c.insert(loc.attr.name.clone(), Value::Object(obj));
            });
        }
    }
    Ok(())
}

fn place_schema_object(
    out: &mut Map<String, Value>,
    urn: &str,
    value: &Value,
    schema: &ResourceSchema,
) -> Result<(), ScimError> {
    let inner = match value {
        Value::Object(m) => m,
        Value::Null => return Ok(()),
        other => return Err(type_error(urn, "an object", other)),
    };
    for (k, v) in inner {
        let Ok(mut path) = parse_attr_path(k) else {
            continue;
        };
        if path.schema.is_none() {
            path.schema = Some(urn.to_owned());
        }
        place(out, &path, v, schema)?;
    }
    Ok(())
}

/// Normalises a POST/PUT body to canonical SCIM JSON (see the module docs).
///
/// A `schemas` member, when present, must be an array of strings; unknown
/// URNs in it are tolerated, and an extension present in the body is kept
/// whether or not `schemas` lists it. Required attributes must be present
/// (`invalidValue`); values of the wrong type give `invalidValue` naming the
/// attribute. The caller compares an `id` in a PUT body itself.
pub fn normalize_input(body: &Value, schema: &ResourceSchema) -> Result<Value, ScimError> {
    let Some(obj) = body.as_object() else {
        return Err(ScimError::invalid_syntax(
            "the request body must be a JSON object",
        ));
    };
    if let Some(schemas) = get_ci(obj, "schemas") {
        let ok = schemas
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_string));
        if !ok {
            return Err(ScimError::invalid_syntax(
                "'schemas' must be an array of URN strings",
            ));
        }
    }
    let mut out = Map::new();
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some((sd, _)) = schema.schema_by_id(key) {
            let urn = sd.id.clone();
            place_schema_object(&mut out, &urn, value, schema)?;
            continue;
        }
        let Ok(path) = parse_attr_path(key) else {
            continue;
        };
        place(&mut out, &path, value, schema)?;
    }
    for attr in &schema.core.attributes {
        if attr.required && attr.mutability != Mutability::ReadOnly && !out.contains_key(&attr.name)
        {
            return Err(ScimError::invalid_value(format!(
                "required attribute '{}' is missing",
                attr.name
            )));
        }
    }
    tidy_extensions(&mut out, schema);
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::schema::{
        CUSTOM_EXTENSION_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA,
    };

    #[test]
    fn string_booleans_are_coerced_only_where_the_schema_says_boolean() {
        let body = json!({
            "schemas": [USER_SCHEMA],
            "userName": "a@b.c",
            "active": "False",
            "title": "True",
            "emails": [{"value": "a@b.c", "primary": "True"}]
        });
        let out = normalize_input(&body, &ResourceSchema::user()).expect("valid");
        assert_eq!(out["active"], json!(false));
        assert_eq!(out["title"], json!("True"));
        assert_eq!(out["emails"][0]["primary"], json!(true));
    }

    #[test]
    fn dotted_and_urn_keys_fold_into_place_and_extensions_are_listed() {
        let body = json!({
            "schemas": [USER_SCHEMA],
            "userName": "a@b.c",
            "name.givenName": "Barbara",
            "name": {"familyName": "Jensen"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701984",
            CUSTOM_EXTENSION_SCHEMA: {"tag": "blue"}
        });
        let out = normalize_input(&body, &ResourceSchema::user()).expect("valid");
        assert_eq!(
            out["name"],
            json!({"givenName": "Barbara", "familyName": "Jensen"})
        );
        assert_eq!(
            out[ENTERPRISE_USER_SCHEMA],
            json!({"employeeNumber": "701984"})
        );
        assert_eq!(out[CUSTOM_EXTENSION_SCHEMA], json!({"tag": "blue"}));
        assert_eq!(
            out["schemas"],
            json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA, CUSTOM_EXTENSION_SCHEMA])
        );
    }

    #[test]
    fn read_only_and_unknown_attributes_are_dropped() {
        let body = json!({
            "id": "x", "meta": {"resourceType": "User"}, "groups": [{"value": "g"}],
            "userName": "u", "favouriteColour": "green",
            "urn:example:unknown:1.0:User": {"a": 1}
        });
        let out = normalize_input(&body, &ResourceSchema::user()).expect("valid");
        assert_eq!(out, json!({"schemas": [USER_SCHEMA], "userName": "u"}));
    }

    #[test]
    fn type_errors_name_the_attribute() {
        let s = ResourceSchema::user();
        let e = normalize_input(&json!({"userName": "u", "active": "maybe"}), &s).expect_err("bad");
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(e.detail.contains("'active'"), "{}", e.detail);
        let e = normalize_input(&json!({"userName": "u", "name": {"givenName": 3}}), &s)
            .expect_err("bad");
        assert!(e.detail.contains("'name.givenName'"), "{}", e.detail);
        let e = normalize_input(&json!({"userName": 5}), &s).expect_err("bad");
        assert!(e.detail.contains("'userName'"), "{}", e.detail);
        let e = normalize_input(&json!({"active": true}), &s).expect_err("missing userName");
        assert!(e.detail.contains("userName"));
        let e = normalize_input(&json!(["x"]), &s).expect_err("not an object");
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        let e = normalize_input(&json!({"schemas": "x", "userName": "u"}), &s)
            .expect_err("bad schemas");
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
    }

    #[test]
    fn manager_bare_string_becomes_a_value_object() {
        let body = json!({"userName": "u", ENTERPRISE_USER_SCHEMA: {"manager": "26118915"}});
        let out = normalize_input(&body, &ResourceSchema::user()).expect("valid");
        assert_eq!(
            out[ENTERPRISE_USER_SCHEMA]["manager"],
            json!({"value": "26118915"})
        );
    }

    #[test]
    fn group_body_is_canonical() {
        let body = json!({"schemas": [GROUP_SCHEMA], "displayName": "Admins", "members": []});
        let out = normalize_input(&body, &ResourceSchema::group()).expect("valid");
        assert_eq!(
            out,
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Admins"})
        );
    }
}
