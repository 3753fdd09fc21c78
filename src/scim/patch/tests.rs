//! Table tests of PATCH parsing and application, apart from the engine so
//! that `apply.rs` reads as one job.

use super::*;
use crate::scim::error::ScimType;
use crate::scim::schema::ResourceSchema;
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
    let e = parse_patch_request(&json!({"Operations": [{"op": "remove"}]})).expect_err("no path");
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
    let body = json!({"Operations": [{"op": "replace", "path": "favouriteColour", "value": "x"}]});
    assert_eq!(
        patch(&user(), &body).expect_err("x").scim_type,
        Some(ScimType::InvalidPath)
    );
    let body = json!({"Operations": [{"op": "replace", "path": "name.nickname", "value": "x"}]});
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
    let body =
        json!({"Operations": [{"op": "replace", "path": "name", "value": {"givenName": "Babs"}}]});
    let out = patch(&user(), &body).expect("ok");
    assert_eq!(
        out.resource["name"],
        json!({"givenName": "Babs", "familyName": "Jensen"})
    );
}

#[test]
fn unchanged_patch_reports_no_change() {
    let body = json!({"Operations": [{"op": "replace", "path": "userName", "value": "bjensen"}]});
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
fn extension_object_value_may_repeat_schemas() {
    for op in ["add", "replace"] {
        let body = json!({"Operations": [{"op": op, "path": ENTERPRISE_USER_SCHEMA, "value": {
            "schemas": [ENTERPRISE_USER_SCHEMA],
            "department": "R&D"
        }}]});
        let out = patch(&user(), &body).expect(op);
        assert_eq!(
            out.resource[ENTERPRISE_USER_SCHEMA]["department"], "R&D",
            "{op}"
        );
        assert!(
            out.resource[ENTERPRISE_USER_SCHEMA]
                .get("schemas")
                .is_none(),
            "{op}"
        );
        assert_eq!(
            out.resource["schemas"],
            json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]),
            "{op}"
        );
    }
}

#[test]
fn a_value_made_primary_clears_the_flag_on_the_one_before() {
    let add = json!({"Operations": [{"op": "add", "path": "emails",
        "value": [{"value": "h@home.example", "type": "home", "primary": true}]}]});
    let out = patch(&user(), &add).expect("patched");
    assert_eq!(
        out.resource["emails"],
        json!([
            {"value": "b@work.example", "type": "work", "primary": false},
            {"value": "h@home.example", "type": "home", "primary": true}
        ])
    );
    // Flipping the flag by value path works the same way.
    let flip = json!({"Operations": [{"op": "replace",
        "path": "emails[type eq \"work\"].primary", "value": true}]});
    let out = patch(&out.resource, &flip).expect("patched");
    assert_eq!(out.resource["emails"][0]["primary"], true);
    assert_eq!(out.resource["emails"][1]["primary"], false);
}
