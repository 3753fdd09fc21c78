//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9).
//!
//! [`project`] trims a canonical resource to what the client asked for.
//! Invariants: `schemas` and attributes with `returned: always` (`id`) are
//! always kept, attributes with `returned: never` (`password`) never are,
//! `returned: request` attributes only when named; when `attributes` is
//! given `excludedAttributes` is ignored, as the RFC says.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::path::{parse_attr_path, AttrPath};
use super::schema::{AttributeDef, ResourceSchema, Returned, SchemaDef};

/// Parses a comma-separated `attributes` / `excludedAttributes` value.
pub fn parse_attribute_list(param: &str) -> Result<Vec<AttrPath>, ScimError> {
    param
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_attr_path)
        .collect()
}

/// What a list of paths says about one attribute.
enum Selection<'p> {
    None,
    Whole,
    Subs(Vec<&'p str>),
}

fn select<'p>(
    paths: &'p [AttrPath],
    schema: &ResourceSchema,
    owner: &SchemaDef,
    is_core: bool,
    name: &str,
) -> Selection<'p> {
    let mut subs = Vec::new();
    for p in paths {
        let owner_matches = match p.schema.as_deref() {
            Some(urn) if p.sub_attr.is_none() && !is_core => {
                // `urn:…:enterprise:2.0:User` names the whole extension.
                if format!("{urn}:{}", p.name).eq_ignore_ascii_case(&owner.id) {
                    return Selection::Whole;
                }
                urn.eq_ignore_ascii_case(&owner.id)
            }
            Some(urn) => urn.eq_ignore_ascii_case(&owner.id),
            None => is_core || schema.core.attribute(&p.name).is_none(),
        };
        if !owner_matches || !p.name.eq_ignore_ascii_case(name) {
            continue;
        }
        match p.sub_attr.as_deref() {
            None => return Selection::Whole,
            Some(s) => subs.push(s),
        }
    }
    if subs.is_empty() {
        Selection::None
    } else {
        Selection::Subs(subs)
    }
}

/// Keeps the sub-attributes `keep` accepts (plus `returned: always` ones,
/// minus `returned: never` ones) in an object or in each element of an array.
fn filter_subs(
    value: &Value,
    def: Option<&AttributeDef>,
    keep: &dyn Fn(&str) -> bool,
) -> Option<Value> {
    let trim = |m: &Map<String, Value>| -> Map<String, Value> {
        m.iter()
            .filter(|(k, _)| {
                let returned = def
                    .and_then(|d| d.sub_attribute(k))
                    .map_or(Returned::Default, |s| s.returned);
                match returned {
                    Returned::Always => true,
                    Returned::Never => false,
                    Returned::Default | Returned::Request => keep(k),
                }
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    match value {
        Value::Object(m) => {
            let t = trim(m);
            (!t.is_empty()).then_some(Value::Object(t))
        }
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .iter()
                .filter_map(|item| match item {
                    Value::Object(m) => {
                        let t = trim(m);
                        (!t.is_empty()).then_some(Value::Object(t))
                    }
                    other => Some(other.clone()),
                })
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        other => Some(other.clone()),
    }
}

fn project_attr(
    key: &str,
    value: &Value,
    owner: &SchemaDef,
    is_core: bool,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
    schema: &ResourceSchema,
) -> Option<Value> {
    let def = owner.attribute(key);
    let returned = def.map_or(Returned::Default, |d| d.returned);
    match returned {
        Returned::Never => return None,
        Returned::Always => return filter_subs(value, def, &|_| true),
        Returned::Default | Returned::Request => {}
    }
    let sub_returned = |s: &str, r: Returned| {
        def.and_then(|d| d.sub_attribute(s))
            .is_some_and(|sd| sd.returned == r)
    };
    if !attributes.is_empty() {
        return match select(attributes, schema, owner, is_core, key) {
            Selection::None => None,
            Selection::Whole => filter_subs(value, def, &|s| !sub_returned(s, Returned::Request)),
            Selection::Subs(subs) => filter_subs(value, def, &|s| {
                subs.iter().any(|x| x.eq_ignore_ascii_case(s))
            }),
        };
    }
    if returned == Returned::Request {
        return None;
    }
    match select(excluded, schema, owner, is_core, key) {
        Selection::Whole => None,
        Selection::None => filter_subs(value, def, &|s| !sub_returned(s, Returned::Request)),
        Selection::Subs(subs) => filter_subs(value, def, &|s| {
            !sub_returned(s, Returned::Request) && !subs.iter().any(|x| x.eq_ignore_ascii_case(s))
        }),
    }
}

/// Applies `attributes` / `excludedAttributes` to `resource`.
#[must_use]
pub fn project(
    resource: &Value,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
    schema: &ResourceSchema,
) -> Value {
    let Some(obj) = resource.as_object() else {
        return resource.clone();
    };
    let mut out = Map::new();
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            out.insert(key.clone(), value.clone());
            continue;
        }
        if let Some(ext) = schema.extension(key) {
            let Value::Object(inner) = value else {
                continue;
            };
            let kept: Map<String, Value> = inner
                .iter()
                .filter_map(|(k, v)| {
                    project_attr(k, v, ext, false, attributes, excluded, schema)
                        .map(|pv| (k.clone(), pv))
                })
                .collect();
            if !kept.is_empty() {
                out.insert(key.clone(), Value::Object(kept));
            }
            continue;
        }
        if let Some(v) = project_attr(key, value, &schema.core, true, attributes, excluded, schema)
        {
            out.insert(key.clone(), v);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
    use serde_json::json;

    fn paths(s: &str) -> Vec<AttrPath> {
        parse_attribute_list(s).expect("valid list")
    }

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "id": "u1",
            "userName": "bjensen",
            "password": "secret",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@x", "type": "work"}],
            "meta": {"resourceType": "User"},
            ENTERPRISE_USER_SCHEMA: {"department": "R&D", "manager": {"value": "m1"}}
        })
    }

    #[test]
    fn attributes_keep_id_and_schemas_and_drop_never_returned() {
        let s = ResourceSchema::user();
        let out = project(&user(), &paths("userName, name.givenName"), &[], &s);
        assert_eq!(
            out,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                "id": "u1",
                "userName": "bjensen",
                "name": {"givenName": "Barbara"}
            })
        );
        let all = project(&user(), &[], &[], &s);
        assert!(all.get("password").is_none());
        assert!(project(&user(), &paths("password"), &[], &s)
            .get("password")
            .is_none());
    }

    #[test]
    fn excluded_attributes_remove_but_never_id() {
        let s = ResourceSchema::user();
        let out = project(
            &user(),
            &paths("id,emails,name.familyName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"),
            &[],
            &s,
        );
        assert!(out.get("emails").is_some(), "attributes, not excluded");
        let out = project(
            &user(),
            &[],
            &paths("id,emails,name.familyName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"),
            &s,
        );
        assert_eq!(out["id"], "u1");
        assert!(out.get("emails").is_none());
        assert_eq!(out["name"], json!({"givenName": "Barbara"}));
        assert_eq!(out[ENTERPRISE_USER_SCHEMA], json!({"department": "R&D"}));
        let out = project(&user(), &[], &paths(ENTERPRISE_USER_SCHEMA), &s);
        assert!(out.get(ENTERPRISE_USER_SCHEMA).is_none());
        let out = project(
            &user(),
            &paths(&format!("{ENTERPRISE_USER_SCHEMA}:department")),
            &[],
            &s,
        );
        assert_eq!(out[ENTERPRISE_USER_SCHEMA], json!({"department": "R&D"}));
    }

    #[test]
    fn group_without_members() {
        let g = json!({"schemas": [GROUP_SCHEMA], "id": "g", "displayName": "G", "members": [{"value": "u1"}]});
        let out = project(&g, &[], &paths("members"), &ResourceSchema::group());
        assert_eq!(
            out,
            json!({"schemas": [GROUP_SCHEMA], "id": "g", "displayName": "G"})
        );
    }

    #[test]
    fn attribute_list_parsing() {
        assert_eq!(paths(" userName ,,emails.value ").len(), 2);
        assert!(parse_attribute_list("userName,bad path").is_err());
    }
}
