//! Table tests for the Entra dialect, using the request bodies Microsoft
//! publishes, copied as published (identifiers included).
//!
//! Sources:
//! - "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft
//!   Entra ID", section "SCIM protocol requests and responses":
//!   <https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups>
//! - "Known issues and resolutions with SCIM 2.0 protocol compliance of the
//!   Microsoft Entra user provisioning service" (requests with and without
//!   the `aadOptscim062020` flag):
//!   <https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility>
//! - Microsoft Q&A "Patch request in SCIM with Azure AD" (answered by the
//!   Entra provisioning team): an `Add` to `addresses[type eq "work"].formatted`
//!   on a user without addresses creates the address:
//!   <https://learn.microsoft.com/en-us/answers/questions/120490/patch-request-in-scim-with-azure-ad>
//! - Microsoft's SCIM reference code test payloads (`remove members` without a
//!   value; an enterprise extension written with `Department`):
//!   <https://github.com/AzureAD/SCIMReferenceCode/tree/master/Microsoft.SCIM.PlaywrightTests/json>
//! - The `manager` forms (bare id, `{"value": id}`, `""`) are the ones listed
//!   in this project's design reference, "Entra dialect the server accepts".
//!
//! Longer than the other files on purpose: it holds tests only, mostly
//! request bodies pasted verbatim, and keeping them in one file keeps each
//! published request next to the answer it must get.

use serde_json::{json, Value};

use super::error::ScimType;
use super::filter::parse_filter;
use super::list::ListResponse;
use super::patch::{apply_patch, parse_patch_request, split_member_ops, PatchOutcome};
use super::projection::{parse_attribute_list, project};
use super::resource::normalize_input;
use super::schema::{ResourceSchema, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

const MANAGER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";

fn parse(body: &str) -> Value {
    match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => panic!("test body is not JSON: {e}"),
    }
}

fn run(resource: &Value, body: &str, schema: &ResourceSchema) -> PatchOutcome {
    let req = match parse_patch_request(&parse(body)) {
        Ok(r) => r,
        Err(e) => panic!("parse: {e}"),
    };
    match apply_patch(resource, &req.operations, schema) {
        Ok(o) => o,
        Err(e) => panic!("apply: {e}"),
    }
}

/// The user of the tutorial's "Get User" response.
fn tutorial_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "5d48a0a8e9f04aa38008",
        "externalId": "58342554-38d6-4ec8-948c-50044d0a33fd",
        "meta": {
            "resourceType": "User",
            "created": "2018-03-27T19:59:26.000Z",
            "lastModified": "2018-03-27T19:59:26.000Z"
        },
        "userName": "Test_User_feed3ace-693c-4e5a-82e2-694be1b39934",
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName"
        },
        "active": true,
        "emails": [{
            "value": "Test_User_22370c1a-9012-42b2-bf64-86099c2a1c22@testuser.com",
            "type": "work",
            "primary": true
        }]
    })
}

fn group_with(members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    json!({
        "schemas": [GROUP_SCHEMA],
        "id": "a99962b9f99d4c4fac67",
        "displayName": "displayName",
        "members": members
    })
}

#[test]
fn tutorial_update_user_multi_valued_properties() {
    let body = r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
            {
            "op": "Replace",
            "path": "emails[type eq \"work\"].value",
            "value": "updatedEmail@microsoft.com"
            },
            {
            "op": "Replace",
            "path": "name.familyName",
            "value": "updatedFamilyName"
            }
    ]
}"#;
    let out = run(&tutorial_user(), body, &ResourceSchema::user());
    assert_eq!(
        out.resource["emails"],
        json!([{"value": "updatedEmail@microsoft.com", "type": "work", "primary": true}])
    );
    assert_eq!(out.resource["name"]["familyName"], "updatedFamilyName");
    assert_eq!(out.resource["name"]["givenName"], "givenName");
    assert_eq!(
        out.changed_attributes,
        vec!["emails".to_owned(), "name".to_owned()]
    );
}

#[test]
fn tutorial_update_user_single_valued_properties() {
    let body = r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "Replace",
        "path": "userName",
        "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    }]
}"#;
    let out = run(&tutorial_user(), body, &ResourceSchema::user());
    assert_eq!(
        out.resource["userName"],
        "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    );
    assert!(out.changed);
}

#[test]
fn tutorial_disable_user_with_boolean() {
    let body = r#"{
    "Operations": [
        {
            "op": "Replace",
            "path": "active",
            "value": false
        }
    ],
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ]
}"#;
    let out = run(&tutorial_user(), body, &ResourceSchema::user());
    assert_eq!(out.resource["active"], json!(false));
}

#[test]
fn compatibility_disable_user_with_string_false() {
    let body = r#"{
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ],
    "Operations": [
        {
            "op": "Replace",
            "path": "active",
            "value": "False"
        }
    ]
}"#;
    let out = run(&tutorial_user(), body, &ResourceSchema::user());
    assert_eq!(out.resource["active"], json!(false));
    let again = run(
        &out.resource,
        &body.replace("False", "True"),
        &ResourceSchema::user(),
    );
    assert_eq!(again.resource["active"], json!(true));
}

#[test]
fn compatibility_string_true_is_not_coerced_for_string_attributes() {
    let body = r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "title", "value": "True"}]}"#;
    let out = run(&tutorial_user(), body, &ResourceSchema::user());
    assert_eq!(out.resource["title"], json!("True"));
}

#[test]
fn compatibility_add_single_value_string_attribute_in_both_cases() {
    for body in [
        r#"{
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ],
    "Operations": [
      {
        "op": "Add",
        "path": "nickName",
        "value": "Babs"
      }
    ]
  }"#,
        r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
      {
        "op": "add",
        "path": "nickName",
        "value": "Babs"
      }
    ]
  }"#,
    ] {
        let out = run(&tutorial_user(), body, &ResourceSchema::user());
        assert_eq!(out.resource["nickName"], "Babs");
        assert_eq!(out.changed_attributes, vec!["nickName".to_owned()]);
    }
}

#[test]
fn compatibility_replace_multiple_attributes_one_op_each() {
    let body = r#"{
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ],
    "Operations": [
        {
            "op": "Replace",
            "path": "displayName",
            "value": "Pvlo"
        },
        {
            "op": "Replace",
            "path": "emails[type eq \"work\"].value",
            "value": "TestBcwqnm@test.microsoft.com"
        },
        {
            "op": "Replace",
            "path": "name.givenName",
            "value": "Gtfd"
        },
        {
            "op": "Replace",
            "path": "name.familyName",
            "value": "Pkqf"
        },
        {
            "op": "Replace",
            "path": "externalId",
            "value": "Eqpj"
        },
        {
            "op": "Replace",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            "value": "Eqpj"
        }
    ]
  }"#;
    let out = run(&tutorial_user(), body, &ResourceSchema::user());
    let r = &out.resource;
    assert_eq!(r["displayName"], "Pvlo");
    assert_eq!(r["emails"][0]["value"], "TestBcwqnm@test.microsoft.com");
    assert_eq!(r["name"]["givenName"], "Gtfd");
    assert_eq!(r["name"]["familyName"], "Pkqf");
    assert_eq!(r["externalId"], "Eqpj");
    assert_eq!(r[ENTERPRISE_USER_SCHEMA]["employeeNumber"], "Eqpj");
    assert_eq!(r["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
}

#[test]
fn compatibility_replace_multiple_attributes_pathless_with_dotted_and_urn_keys() {
    let body = r#"{
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ],
    "Operations": [
        {
            "op": "replace",
            "path": "emails[type eq \"work\"].value",
            "value": "TestMhvaes@test.microsoft.com"
        },
        {
            "op": "replace",
            "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"
            }
        }
    ]
  }"#;
    let out = run(&tutorial_user(), body, &ResourceSchema::user());
    let r = &out.resource;
    assert_eq!(r["emails"][0]["value"], "TestMhvaes@test.microsoft.com");
    assert_eq!(r["displayName"], "Bjfe");
    assert_eq!(
        r["name"],
        json!({"formatted": "givenName familyName", "givenName": "Kkom", "familyName": "Unua"})
    );
    assert_eq!(r[ENTERPRISE_USER_SCHEMA], json!({"employeeNumber": "Aklq"}));
    assert_eq!(
        out.changed_attributes,
        vec![
            "displayName".to_owned(),
            "emails".to_owned(),
            "name".to_owned(),
            format!("{ENTERPRISE_USER_SCHEMA}:employeeNumber"),
        ]
    );
}

#[test]
fn compatibility_remove_member_with_value_array_removes_only_those_listed() {
    let body = r#"{
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ],
    "Operations": [
        {
            "op": "Remove",
            "path": "members",
            "value": [
                {
                    "value": "u1091"
                }
            ]
        }
    ]
  }"#;
    let out = run(
        &group_with(&["u1090", "u1091", "u1092"]),
        body,
        &ResourceSchema::group(),
    );
    assert_eq!(
        out.resource["members"],
        json!([{"value": "u1090"}, {"value": "u1092"}])
    );
    let (delta, rest) = split_member_ops(
        &parse_patch_request(&parse(body))
            .map(|r| r.operations)
            .unwrap_or_default(),
    );
    assert_eq!(delta.remove, vec!["u1091".to_owned()]);
    assert!(!delta.remove_all && rest.is_empty());
}

#[test]
fn compatibility_remove_member_by_value_filter() {
    let body = r#"{
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ],
    "Operations": [
        {
            "op": "remove",
            "path": "members[value eq \"7f4bc1a3-285e-48ae-8202-5accb43efb0e\"]"
        }
    ]
  }"#;
    let group = group_with(&["7f4bc1a3-285e-48ae-8202-5accb43efb0e", "other"]);
    let out = run(&group, body, &ResourceSchema::group());
    assert_eq!(out.resource["members"], json!([{"value": "other"}]));
    let ops = parse_patch_request(&parse(body))
        .map(|r| r.operations)
        .unwrap_or_default();
    let (delta, rest) = split_member_ops(&ops);
    assert_eq!(
        delta.remove,
        vec!["7f4bc1a3-285e-48ae-8202-5accb43efb0e".to_owned()]
    );
    assert!(rest.is_empty());
}

#[test]
fn tutorial_update_group_add_members() {
    let body = r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "Add",
        "path": "members",
        "value": [{
            "$ref": null,
            "value": "f648f8d5ea4e4cd38e9c"
        }]
    }]
}"#;
    let out = run(&group_with(&[]), body, &ResourceSchema::group());
    assert_eq!(
        out.resource["members"],
        json!([{"value": "f648f8d5ea4e4cd38e9c"}])
    );
    let again = run(&out.resource, body, &ResourceSchema::group());
    assert!(!again.changed, "adding an existing member changes nothing");
    let ops = parse_patch_request(&parse(body))
        .map(|r| r.operations)
        .unwrap_or_default();
    let (delta, rest) = split_member_ops(&ops);
    assert_eq!(delta.add, vec!["f648f8d5ea4e4cd38e9c".to_owned()]);
    assert!(rest.is_empty());
}

#[test]
fn tutorial_update_group_remove_members() {
    let body = r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "Remove",
        "path": "members",
        "value": [{
            "$ref": null,
            "value": "f648f8d5ea4e4cd38e9c"
        }]
    }]
}"#;
    let out = run(
        &group_with(&["f648f8d5ea4e4cd38e9c", "keep"]),
        body,
        &ResourceSchema::group(),
    );
    assert_eq!(out.resource["members"], json!([{"value": "keep"}]));
}

#[test]
fn tutorial_update_group_non_member_attributes() {
    let body = r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "Replace",
        "path": "displayName",
        "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    }]
}"#;
    let out = run(&group_with(&["m"]), body, &ResourceSchema::group());
    assert_eq!(
        out.resource["displayName"],
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    );
    assert_eq!(out.resource["members"], json!([{"value": "m"}]));
}

#[test]
fn reference_code_remove_all_members() {
    let body = r#"{
  "schemas": [
    "urn:ietf:params:scim:api:messages:2.0:PatchOp"
  ],
  "Operations": [
    {
      "op": "remove",
      "path": "members"
    }
  ]
}"#;
    let out = run(&group_with(&["a", "b"]), body, &ResourceSchema::group());
    assert!(out.resource.get("members").is_none());
    let ops = parse_patch_request(&parse(body))
        .map(|r| r.operations)
        .unwrap_or_default();
    let (delta, _) = split_member_ops(&ops);
    assert!(delta.remove_all);
}

#[test]
fn qna_add_work_address_sub_attribute_creates_the_address() {
    let body = r#"{
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ],
    "Operations": [
        {
            "op": "Add",
            "path": "addresses[type eq \"work\"].formatted",
            "value": "Columbus"
        }
    ]
}"#;
    let out = run(&tutorial_user(), body, &ResourceSchema::user());
    assert_eq!(
        out.resource["addresses"],
        json!([{"type": "work", "formatted": "Columbus"}])
    );
}

#[test]
fn work_address_street_update_keeps_sibling_fields() {
    let mut user = tutorial_user();
    user["addresses"] = json!([
        {"type": "work", "streetAddress": "1 Old Rd", "locality": "Hollywood", "postalCode": "91608"},
        {"type": "home", "streetAddress": "456 Hollywood Blvd"}
    ]);
    let body = r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "100 Universal City Plaza"}]}"#;
    let out = run(&user, body, &ResourceSchema::user());
    assert_eq!(
        out.resource["addresses"],
        json!([
            {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "postalCode": "91608"},
            {"type": "home", "streetAddress": "456 Hollywood Blvd"}
        ])
    );
}

#[test]
fn manager_as_bare_id_value_object_and_empty_string() {
    let schema = ResourceSchema::user();
    let bare = format!(
        r#"{{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{{"op": "Add", "path": "{MANAGER}", "value": "26118915"}}]}}"#
    );
    let out = run(&tutorial_user(), &bare, &schema);
    assert_eq!(
        out.resource[ENTERPRISE_USER_SCHEMA]["manager"],
        json!({"value": "26118915"})
    );
    assert_eq!(out.changed_attributes, vec![MANAGER.to_owned()]);

    let object = format!(
        r#"{{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{{"op": "Replace", "path": "{MANAGER}", "value": {{"value": "3bd7b0ff"}}}}]}}"#
    );
    let out = run(&out.resource, &object, &schema);
    assert_eq!(
        out.resource[ENTERPRISE_USER_SCHEMA]["manager"],
        json!({"value": "3bd7b0ff"})
    );

    let empty = format!(
        r#"{{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{{"op": "Replace", "path": "{MANAGER}", "value": ""}}]}}"#
    );
    let out = run(&out.resource, &empty, &schema);
    assert!(out.resource.get(ENTERPRISE_USER_SCHEMA).is_none());
    assert_eq!(out.resource["schemas"], json!([USER_SCHEMA]));

    let pathless = format!(
        r#"{{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{{"op": "Add", "value": {{"{MANAGER}": "26118915"}}}}]}}"#
    );
    let out = run(&tutorial_user(), &pathless, &schema);
    assert_eq!(
        out.resource[ENTERPRISE_USER_SCHEMA]["manager"],
        json!({"value": "26118915"})
    );
}

#[test]
fn null_and_empty_values_clear_attributes() {
    let schema = ResourceSchema::user();
    for value in ["null", "\"\"", "[]", "{}"] {
        let attr = if value == "[]" {
            "emails"
        } else if value == "{}" {
            "name"
        } else {
            "externalId"
        };
        let body = format!(
            r#"{{"Operations": [{{"op": "Replace", "path": "{attr}", "value": {value}}}]}}"#
        );
        let out = run(&tutorial_user(), &body, &schema);
        assert!(out.resource.get(attr).is_none(), "{attr} = {value}");
        assert_eq!(out.changed_attributes, vec![attr.to_owned()]);
    }
}

#[test]
fn value_filter_on_members_with_unknown_member_is_no_target() {
    let body = r#"{"Operations": [{"op": "remove", "path": "members[value eq \"nobody\"]"}]}"#;
    let req = parse_patch_request(&parse(body))
        .map(|r| r.operations)
        .unwrap_or_default();
    let e = apply_patch(&group_with(&["a"]), &req, &ResourceSchema::group()).expect_err("no match");
    assert_eq!(e.scim_type, Some(ScimType::NoTarget));
}

#[test]
fn tutorial_create_user_body_normalises() {
    let body = parse(
        r#"{
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
    "active": true,
    "emails": [{
        "primary": true,
        "type": "work",
        "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
    }],
    "meta": {
        "resourceType": "User"
    },
    "name": {
        "formatted": "givenName familyName",
        "familyName": "familyName",
        "givenName": "givenName"
    },
    "roles": []
}"#,
    );
    let out = match normalize_input(&body, &ResourceSchema::user()) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(
        out,
        json!({
            "schemas": [USER_SCHEMA],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
            "active": true,
            "emails": [{
                "primary": true,
                "type": "work",
                "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
            }],
            "name": {
                "formatted": "givenName familyName",
                "familyName": "familyName",
                "givenName": "givenName"
            }
        })
    );
}

#[test]
fn tutorial_create_group_with_microsoft_schema_urn_is_tolerated() {
    let body = parse(
        r#"{
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
    "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
    "displayName": "displayName",
    "meta": {
        "resourceType": "Group"
    }
}"#,
    );
    let out = normalize_input(&body, &ResourceSchema::group()).ok();
    assert_eq!(
        out,
        Some(json!({
            "schemas": [GROUP_SCHEMA],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName"
        }))
    );
}

#[test]
fn reference_code_enterprise_user_with_capitalised_extension_attribute() {
    let body = parse(
        r#"{
  "userName": "enterprise",
  "active": true,
  "addresses": [
    {
      "country": "Bermuda",
      "formatted": "9132 Jennifer Way Suite 040\nSouth Nancy, MI 55645",
      "locality": "West Mercedes",
      "postalCode": "99265",
      "region": "Montana",
      "streetAddress": "4939 Hess Fork",
      "type": "work",
      "primary": false
    },
    {
      "country": null,
      "formatted": "18522 Lisa Unions\nEast Gregory, CT 52311",
      "locality": null,
      "postalCode": null,
      "region": null,
      "streetAddress": null,
      "type": "other",
      "primary": false
    }
  ],
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
    "Department": "some department"
  },
  "displayName": "Kimberly Baker",
  "emails": [
    {
      "type": "work",
      "primary": true,
      "value": "anna33@gmail.com"
    },
    {
      "type": "work",
      "primary": false,
      "value": "anna33@example.com"
    }
  ],
  "meta": {
    "created": "2019-09-18T18:15:26.5788954+00:00",
    "lastModified": "2019-09-18T18:15:26.5788976+00:00",
    "resourceType": "User"
  },
  "name": {
    "formatted": "Daniel Mcgee",
    "familyName": "Employee",
    "givenName": "Darl",
    "honorificPrefix": null,
    "honorificSuffix": null
  },
  "phoneNumbers": [
    {
      "type": "fax",
      "primary": false,
      "value": "312-320-0500"
    },
    {
      "type": "mobile",
      "primary": false,
      "value": "312-320-1707"
    },
    {
      "type": "work",
      "primary": true,
      "value": "312-320-0932"
    }
  ],
  "preferredLanguage": "xh",
  "roles": [],
  "title": "Site engineer",
  "externalId": "22fbc523-6032-4c5f-939d-5d4850cf3e52",
  "schemas": [
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
  ]
}"#,
    );
    let out = normalize_input(&body, &ResourceSchema::user()).unwrap_or_default();
    assert_eq!(
        out[ENTERPRISE_USER_SCHEMA],
        json!({"department": "some department"})
    );
    assert_eq!(
        out["addresses"][1],
        json!({"formatted": "18522 Lisa Unions\nEast Gregory, CT 52311", "type": "other", "primary": false})
    );
    assert_eq!(
        out["name"],
        json!({"formatted": "Daniel Mcgee", "familyName": "Employee", "givenName": "Darl"})
    );
    assert!(out.get("meta").is_none() && out.get("roles").is_none());
    assert_eq!(out["phoneNumbers"].as_array().map(Vec::len), Some(3));
}

#[test]
fn tutorial_lookups_and_test_connection() {
    let schema = ResourceSchema::user();
    let user = tutorial_user();
    for (filter, expected) in [
        (
            r#"userName eq "Test_User_feed3ace-693c-4e5a-82e2-694be1b39934""#,
            true,
        ),
        (
            r#"userName eq "test_user_FEED3ACE-693c-4e5a-82e2-694be1b39934""#,
            true,
        ),
        (r#"userName eq "non-existent user""#, false),
        (
            r#"externalId eq "58342554-38d6-4ec8-948c-50044d0a33fd""#,
            true,
        ),
        (
            r#"emails[type eq "work"].value eq "Test_User_22370c1a-9012-42b2-bf64-86099c2a1c22@testuser.com""#,
            true,
        ),
        (r#"id eq "5d48a0a8e9f04aa38008""#, true),
    ] {
        let f = match parse_filter(filter) {
            Ok(f) => f,
            Err(e) => panic!("{filter}: {e}"),
        };
        assert_eq!(f.matches(&user, &schema), expected, "{filter}");
    }
    assert_eq!(ListResponse::empty().to_value()["totalResults"], 0);
}

#[test]
fn tutorial_get_group_excluding_members() {
    let group = group_with(&["u1"]);
    let excluded = parse_attribute_list("members").unwrap_or_default();
    let out = project(&group, &[], &excluded, &ResourceSchema::group());
    assert_eq!(
        out,
        json!({"schemas": [GROUP_SCHEMA], "id": "a99962b9f99d4c4fac67", "displayName": "displayName"})
    );
    let f = parse_filter(r#"displayName eq "displayName""#).ok();
    assert!(f.is_some_and(|f| f.matches(&group, &ResourceSchema::group())));
}
