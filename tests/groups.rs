//! `/Groups` against a real Keycloak: every group scenario of Microsoft's
//! SCIM validation as its own test (bodies from "Tutorial: Develop and plan
//! provisioning for a SCIM endpoint in Microsoft Entra ID",
//! <https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups>,
//! and the compatibility notes,
//! <https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility>),
//! membership checked through the Admin API after every step, the
//! privilege-escalation guard, placement, and a 5,000-member group.

mod common;

/// Call budgets are measured with warm caches that outlive the test.
const LONG_CACHE: &[(&str, &str)] = &[("KCSCIM_SCIM__CACHE_TTL_SECS", "300")];

use std::collections::BTreeSet;

use common::{assert_scim_error, spawn_app, TestApp};
use serde_json::{json, Value};

fn entra_group(name: &str) -> Value {
    json!({
        "externalId": format!("ext-{name}"),
        "displayName": name,
        "meta": {"resourceType": "Group"},
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:Group",
            "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
        ]
    })
}

fn patch_ops(ops: &Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

async fn user(app: &TestApp, n: &str) -> String {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("member_{n}@contoso.com"),
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": format!("member_{n}@contoso.com")}],
        "name": {"givenName": "Member", "familyName": n}
    });
    let reply = app.post("/Users", &body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_owned()
}

async fn group(app: &TestApp, name: &str) -> String {
    let reply = app.post("/Groups", &entra_group(name)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_owned()
}

/// Members as Keycloak sees them.
async fn kc_members(app: &TestApp, gid: &str) -> BTreeSet<String> {
    app.kc
        .group_members(&app.realm, gid, 0, 10_000)
        .await
        .expect("members")
        .into_iter()
        .filter_map(|u| u.id)
        .collect()
}

/// Members as SCIM reports them.
async fn scim_members(app: &TestApp, gid: &str) -> BTreeSet<String> {
    let reply = app.get(&format!("/Groups/{gid}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["value"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn assert_members(app: &TestApp, gid: &str, expected: &[&String]) {
    let want: BTreeSet<String> = expected.iter().map(|s| (*s).clone()).collect();
    assert_eq!(kc_members(app, gid).await, want, "Keycloak's view");
    assert_eq!(scim_members(app, gid).await, want, "SCIM's view");
}

fn filter(f: &str) -> String {
    url::form_urlencoded::byte_serialize(f.as_bytes()).collect()
}

#[tokio::test]
async fn create_group_with_entras_body_and_microsofts_schema_urn() {
    let app = spawn_app("gcreate").await;
    let reply = app.post("/Groups", &entra_group("Sales")).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let gid = reply.body["id"].as_str().expect("id");
    assert_eq!(reply.body["displayName"], "Sales");
    assert_eq!(reply.body["externalId"], "ext-Sales");
    assert_eq!(reply.body["members"], json!([]));
    assert!(reply
        .header("location")
        .is_some_and(|l| l.ends_with(&format!("/Groups/{gid}"))));
    let kc = app
        .kc
        .get_group(&app.realm, gid)
        .await
        .expect("admin")
        .expect("exists");
    assert_eq!(kc.name, "Sales");
    assert_eq!(kc.path.as_deref(), Some("/Sales"));
    assert_eq!(
        kc.attributes.expect("attrs")["externalId"],
        vec!["ext-Sales".to_owned()]
    );
}

#[tokio::test]
async fn get_group_by_display_name_excluding_members() {
    let app = common::spawn_app_with("gfind", LONG_CACHE).await;
    let gid = group(&app, "Engineering").await;
    group(&app, "engineering").await; // differs only in case
    let u = user(&app, "f1").await;
    app.patch(
        &format!("/Groups/{gid}"),
        &patch_ops(&json!([{"op": "Add", "path": "members", "value": [{"value": u}]}])),
    )
    .await;
    let before = app.kc_calls();
    let reply = app
        .get(&format!(
            "/Groups?excludedAttributes=members&filter={}",
            filter("displayName eq \"Engineering\"")
        ))
        .await;
    let calls = app.kc_calls() - before;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["totalResults"], 1, "{}", reply.body);
    let found = &reply.body["Resources"][0];
    assert_eq!(found["id"], gid.as_str());
    assert!(found.get("members").is_none(), "{found}");
    assert!(calls <= 1, "displayName lookup made {calls} Keycloak calls");
    let none = app
        .get(&format!(
            "/Groups?excludedAttributes=members&filter={}",
            filter("displayName eq \"Nope\"")
        ))
        .await;
    assert_eq!(none.body["totalResults"], 0);
}

#[tokio::test]
async fn get_group_by_id_lists_members() {
    let app = spawn_app("gget").await;
    let gid = group(&app, "Ops").await;
    let u = user(&app, "g1").await;
    app.patch(
        &format!("/Groups/{gid}"),
        &patch_ops(&json!([{"op": "Add", "path": "members", "value": [{"value": u}]}])),
    )
    .await;
    let reply = app.get(&format!("/Groups/{gid}")).await;
    assert_eq!(reply.status, 200);
    let m = &reply.body["members"][0];
    assert_eq!(m["value"], u.as_str());
    assert_eq!(m["type"], "User");
    assert!(m["$ref"]
        .as_str()
        .is_some_and(|r| r.ends_with(&format!("/Users/{u}"))));
    // The user's read-only groups attribute shows the direct membership.
    let me = app.get(&format!("/Users/{u}?attributes=groups")).await;
    assert_eq!(me.body["groups"][0]["value"], gid.as_str(), "{}", me.body);
    assert_eq!(me.body["groups"][0]["display"], "Ops");
}

#[tokio::test]
async fn duplicate_group_is_409_uniqueness() {
    let app = spawn_app("gdup").await;
    group(&app, "Finance").await;
    let reply = app.post("/Groups", &entra_group("Finance")).await;
    assert_scim_error(&reply, 409, Some("uniqueness"));
}

#[tokio::test]
async fn add_several_members_in_one_add() {
    let app = spawn_app("gadd").await;
    let gid = group(&app, "Team").await;
    let (a, b, c) = (
        user(&app, "a").await,
        user(&app, "b").await,
        user(&app, "c").await,
    );
    let reply = app
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(&json!([{"op": "Add", "path": "members", "value": [
                {"value": a}, {"value": b}, {"value": c}
            ]}])),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_members(&app, &gid, &[&a, &b, &c]).await;
    // Adding an existing member again is not an error.
    let reply = app
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(&json!([{"op": "Add", "path": "members", "value": [{"value": a}]}])),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_members(&app, &gid, &[&a, &b, &c]).await;
}

#[tokio::test]
async fn remove_members_by_value_array_removes_only_those_listed() {
    let app = spawn_app("grm").await;
    let gid = group(&app, "Team").await;
    let (a, b, c) = (
        user(&app, "a").await,
        user(&app, "b").await,
        user(&app, "c").await,
    );
    app.patch(
        &format!("/Groups/{gid}"),
        &patch_ops(&json!([{"op": "Add", "path": "members", "value": [{"value": a}, {"value": b}, {"value": c}]}])),
    )
    .await;
    let reply = app
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(&json!([{"op": "Remove", "path": "members", "value": [{"value": a}, {"value": c}]}])),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_members(&app, &gid, &[&b]).await;
    // Removing someone who is not a member is not an error.
    let reply = app
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(&json!([{"op": "Remove", "path": "members", "value": [{"value": a}]}])),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_members(&app, &gid, &[&b]).await;
}

#[tokio::test]
async fn remove_member_by_value_filter() {
    let app = spawn_app("grmf").await;
    let gid = group(&app, "Team").await;
    let (a, b) = (user(&app, "a").await, user(&app, "b").await);
    app.patch(
        &format!("/Groups/{gid}"),
        &patch_ops(
            &json!([{"op": "Add", "path": "members", "value": [{"value": a}, {"value": b}]}]),
        ),
    )
    .await;
    let reply = app
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(&json!([{"op": "Remove", "path": format!("members[value eq \"{a}\"]")}])),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_members(&app, &gid, &[&b]).await;
}

#[tokio::test]
async fn replace_all_members() {
    let app = spawn_app("grep").await;
    let gid = group(&app, "Team").await;
    let (a, b, c) = (
        user(&app, "a").await,
        user(&app, "b").await,
        user(&app, "c").await,
    );
    app.patch(
        &format!("/Groups/{gid}"),
        &patch_ops(
            &json!([{"op": "Add", "path": "members", "value": [{"value": a}, {"value": b}]}]),
        ),
    )
    .await;
    let reply = app
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(&json!([{"op": "Replace", "path": "members", "value": [{"value": b}, {"value": c}]}])),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_members(&app, &gid, &[&b, &c]).await;
    // PUT replaces the member list too.
    let mut body = entra_group("Team");
    body["members"] = json!([{"value": a}]);
    let reply = app.put(&format!("/Groups/{gid}"), &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_members(&app, &gid, &[&a]).await;
}

/// A service account an admin put into a group is not SCIM's: not listed
/// among the members, and neither a replace of the members, a removal of
/// them all, a removal naming it nor a PUT takes it out.
#[tokio::test]
async fn a_service_account_in_a_group_is_neither_shown_nor_removed() {
    let app = spawn_app("gsa").await;
    let gid = group(&app, "Apps").await;
    let (a, b) = (user(&app, "a").await, user(&app, "b").await);
    let sa = app.service_account_of(&app.scim_client().await).await;
    app.kc
        .add_group_member(&app.realm, &sa, &gid)
        .await
        .expect("added by an admin");
    let with_sa = |ids: &[&String]| -> BTreeSet<String> {
        ids.iter()
            .map(|s| (*s).clone())
            .chain([sa.clone()])
            .collect()
    };
    let steps = [
        json!([{"op": "Add", "path": "members", "value": [{"value": a}]}]),
        json!([{"op": "Replace", "path": "members", "value": [{"value": b}]}]),
        json!([{"op": "Remove", "path": "members"}]),
        json!([{"op": "Remove", "path": format!("members[value eq \"{sa}\"]")}]),
    ];
    let expected: [&[&String]; 4] = [&[&a], &[&b], &[], &[]];
    for (ops, members) in steps.iter().zip(expected) {
        let reply = app.patch(&format!("/Groups/{gid}"), &patch_ops(ops)).await;
        assert_eq!(reply.status, 204, "{ops}: {}", reply.body);
        assert_eq!(kc_members(&app, &gid).await, with_sa(members), "{ops}");
        let shown: BTreeSet<String> = members.iter().map(|s| (*s).clone()).collect();
        assert_eq!(scim_members(&app, &gid).await, shown, "{ops}");
    }
    let mut body = entra_group("Apps");
    body["members"] = json!([{"value": a}]);
    let reply = app.put(&format!("/Groups/{gid}"), &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(kc_members(&app, &gid).await, with_sa(&[&a]), "PUT");
    assert_eq!(
        reply.body["members"].as_array().map(Vec::len),
        Some(1),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn rename_in_the_same_request_as_a_membership_change() {
    let app = spawn_app("gren").await;
    let gid = group(&app, "Old Name").await;
    let a = user(&app, "a").await;
    let reply = app
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(&json!([
                {"op": "Replace", "path": "displayName", "value": "New Name"},
                {"op": "Add", "path": "members", "value": [{"value": a}]}
            ])),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let got = app.get(&format!("/Groups/{gid}")).await;
    assert_eq!(got.body["displayName"], "New Name");
    assert_eq!(
        app.kc
            .get_group(&app.realm, &gid)
            .await
            .expect("admin")
            .expect("exists")
            .name,
        "New Name"
    );
    assert_members(&app, &gid, &[&a]).await;
    // The feature-flag form: a path-less replace.
    let reply = app
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(&json!([{"op": "replace", "value": {"id": gid, "displayName": "Newer"}}])),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(
        app.get(&format!("/Groups/{gid}")).await.body["displayName"],
        "Newer"
    );
}

#[tokio::test]
async fn unknown_member_is_400_and_nothing_is_applied() {
    let app = spawn_app("gunk").await;
    let gid = group(&app, "Team").await;
    let a = user(&app, "a").await;
    let reply = app
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(&json!([
                {"op": "Replace", "path": "displayName", "value": "Renamed"},
                {"op": "Add", "path": "members", "value": [{"value": a}, {"value": "00000000-0000-0000-0000-000000000000"}]}
            ])),
        )
        .await;
    assert_scim_error(&reply, 400, Some("invalidValue"));
    assert!(
        reply.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("00000000-0000")),
        "{}",
        reply.body
    );
    assert_members(&app, &gid, &[]).await;
    assert_eq!(
        app.get(&format!("/Groups/{gid}")).await.body["displayName"],
        "Team"
    );
    // A single unknown member (the fast path without an up-front read).
    let reply = app
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(&json!([{"op": "Add", "path": "members", "value": [
                {"value": "00000000-0000-0000-0000-000000000001"}
            ]}])),
        )
        .await;
    assert_scim_error(&reply, 400, Some("invalidValue"));
    assert_members(&app, &gid, &[]).await;
}

#[tokio::test]
async fn delete_group_then_404() {
    let app = spawn_app("gdel").await;
    let gid = group(&app, "Temp").await;
    let reply = app.delete(&format!("/Groups/{gid}")).await;
    assert_eq!(reply.status, 204);
    assert_scim_error(&app.get(&format!("/Groups/{gid}")).await, 404, None);
    assert!(app
        .kc
        .get_group(&app.realm, &gid)
        .await
        .expect("admin")
        .is_none());
}

#[tokio::test]
async fn adding_a_member_to_an_admin_group_is_refused() {
    let app = spawn_app("gesc").await;
    let gid = group(&app, "Admins").await;
    let insider = user(&app, "insider").await;
    app.patch(
        &format!("/Groups/{gid}"),
        &patch_ops(&json!([{"op": "Add", "path": "members", "value": [{"value": insider}]}])),
    )
    .await;
    common::grant_realm_admin(&app, "groups", &gid).await;
    // Nothing is cached: the grant protects the group at once.
    let attacker = user(&app, "attacker").await;
    let reply = app
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(&json!([{"op": "Add", "path": "members", "value": [{"value": attacker}]}])),
        )
        .await;
    assert_scim_error(&reply, 403, None);
    let reply = app
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(
                &json!([{"op": "Replace", "path": "members", "value": [{"value": attacker}]}]),
            ),
        )
        .await;
    assert_scim_error(&reply, 403, None);
    let reply = app
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(&json!([{"op": "Replace", "path": "displayName", "value": "Harmless"}])),
        )
        .await;
    assert_scim_error(&reply, 403, None);
    let mut put = entra_group("Admins");
    put["members"] = json!([{"value": insider}, {"value": attacker}]);
    assert_scim_error(&app.put(&format!("/Groups/{gid}"), &put).await, 403, None);
    assert_scim_error(&app.delete(&format!("/Groups/{gid}")).await, 403, None);
    assert_members(&app, &gid, &[&insider]).await;
    assert_eq!(
        app.kc
            .get_group(&app.realm, &gid)
            .await
            .expect("admin")
            .expect("exists")
            .name,
        "Admins"
    );
    // Members of the admin group are themselves protected users now.
    let reply = app
        .patch(
            &format!("/Users/{insider}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "Replace", "path": "active", "value": false}]}),
        )
        .await;
    assert_scim_error(&reply, 403, None);
}

#[tokio::test]
async fn groups_live_under_the_configured_parent() {
    let app = spawn_app("gpar").await;
    // An admin-made top-level group SCIM must not see once a parent is set.
    let outside = app
        .kc
        .create_group(
            &app.realm,
            None,
            &kc_scim::keycloak::KcGroup {
                name: "Outside".to_owned(),
                ..Default::default()
            },
        )
        .await
        .expect("outside group");
    let parent = app
        .kc
        .create_group(
            &app.realm,
            None,
            &kc_scim::keycloak::KcGroup {
                name: "scim".to_owned(),
                ..Default::default()
            },
        )
        .await
        .expect("parent");
    let missing = common::kc_scim(
        &[
            "realm",
            "set",
            "--realm",
            &app.realm,
            "--group-parent",
            "/nope",
        ],
        &common::kc_env(),
    );
    assert!(
        !missing.status.success(),
        "a missing parent must be refused"
    );
    let set = common::kc_scim(
        &[
            "realm",
            "set",
            "--realm",
            &app.realm,
            "--group-parent",
            "/scim",
        ],
        &common::kc_env(),
    );
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await; // realm cache TTL
    let gid = group(&app, "Placed").await;
    let kc = app
        .kc
        .get_group(&app.realm, &gid)
        .await
        .expect("admin")
        .expect("exists");
    assert_eq!(kc.path.as_deref(), Some("/scim/Placed"));
    assert_eq!(kc.parent_id.as_deref().unwrap_or(&parent), parent);
    assert_scim_error(&app.get(&format!("/Groups/{outside}")).await, 404, None);
    assert_scim_error(&app.delete(&format!("/Groups/{outside}")).await, 404, None);
    let a = user(&app, "a").await;
    let reply = app
        .patch(
            &format!("/Groups/{outside}"),
            &patch_ops(&json!([{"op": "Add", "path": "members", "value": [{"value": a}]}])),
        )
        .await;
    assert_scim_error(&reply, 404, None);
    assert!(kc_members(&app, &outside).await.is_empty());
    let list = app.get("/Groups?excludedAttributes=members").await;
    let names: Vec<&str> = list.body["Resources"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|g| g["displayName"].as_str())
        .collect();
    assert_eq!(names, vec!["Placed"], "{}", list.body);
}

#[tokio::test]
async fn a_group_of_5000_members_is_read_patched_and_excluded_without_loading_all() {
    let app = common::spawn_app_with("gbig", LONG_CACHE).await;
    let gid = group(&app, "Everyone").await;
    // Seed 5,000 members in one partial import (the Admin API's bulk path).
    let users: Vec<Value> = (0..5000)
        .map(|i| {
            json!({"username": format!("bulk{i:05}"), "enabled": true,
                   "email": format!("bulk{i:05}@contoso.com"), "firstName": "Bulk", "lastName": format!("{i}"),
                   "groups": ["/Everyone"]})
        })
        .collect();
    // In chunks: one import of 5,000 can outlast Keycloak's transaction.
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(300))
        .build()
        .expect("client");
    for chunk in users.chunks(1000) {
        // A fresh token per chunk: on a loaded machine five imports can
        // outlast the master realm's 60 s access-token lifetime.
        let token = common::master_admin_token(&app.kc).await;
        let status = http
            .post(format!(
                "{}/admin/realms/{}/partialImport",
                common::kc_url(),
                app.realm
            ))
            .bearer_auth(&token)
            .json(&json!({"ifResourceExists": "SKIP", "users": chunk}))
            .send()
            .await
            .expect("import")
            .status();
        assert!(status.is_success(), "{status}");
    }
    assert_eq!(kc_members(&app, &gid).await.len(), 5000);

    app.get("/Groups?count=1&excludedAttributes=members").await; // warm the realm cache
    let before = app.kc_calls();
    let lookup = app
        .get(&format!(
            "/Groups?excludedAttributes=members&filter={}",
            filter("displayName eq \"Everyone\"")
        ))
        .await;
    let lookup_calls = app.kc_calls() - before;
    assert_eq!(lookup.body["totalResults"], 1);
    assert!(lookup.body["Resources"][0].get("members").is_none());
    assert!(
        lookup_calls <= 1,
        "excluded-members lookup made {lookup_calls} calls"
    );

    let newcomer = user(&app, "newcomer").await;
    // Warm the per-realm caches a write uses (service accounts) within their TTL.
    let existing = app.get("/Users?count=1").await.body["Resources"][0]["id"]
        .as_str()
        .map(str::to_owned)
        .expect("a member");
    app.patch(
        &format!("/Groups/{gid}"),
        &patch_ops(&json!([{"op": "Add", "path": "members", "value": [{"value": existing}]}])),
    )
    .await;
    let before = app.kc_calls();
    let reply = app
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(&json!([{"op": "Add", "path": "members", "value": [{"value": newcomer}]}])),
        )
        .await;
    let patch_calls = app.kc_calls() - before;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert!(
        patch_calls <= 5,
        "adding one member made {patch_calls} calls"
    );

    let before = app.kc_calls();
    let full = app.get(&format!("/Groups/{gid}")).await;
    let read_calls = app.kc_calls() - before;
    assert_eq!(full.body["members"].as_array().map(Vec::len), Some(5001));
    println!(
        "5,000-member group: lookup without members {lookup_calls} call(s), \
         add one member {patch_calls}, full read {read_calls}"
    );
}

#[tokio::test]
async fn keycloak_calls_per_group_operation() {
    let app = common::spawn_app_with("gbudget", LONG_CACHE).await;
    let warm = group(&app, "Warm").await;
    app.delete(&format!("/Groups/{warm}")).await;
    let (a, b) = (user(&app, "a").await, user(&app, "b").await);
    let mut rows = Vec::new();
    let mut measure =
        |name: &str, before: u64, after: u64| rows.push((name.to_owned(), after - before));
    let before = app.kc_calls();
    let gid = group(&app, "Budget").await;
    measure("create (no members)", before, app.kc_calls());
    let before = app.kc_calls();
    app.get(&format!("/Groups/{gid}?excludedAttributes=members"))
        .await;
    measure("get without members", before, app.kc_calls());
    let before = app.kc_calls();
    app.get(&format!("/Groups/{gid}")).await;
    measure("get with members (< 500)", before, app.kc_calls());
    let before = app.kc_calls();
    app.patch(
        &format!("/Groups/{gid}"),
        &patch_ops(
            &json!([{"op": "Add", "path": "members", "value": [{"value": a}, {"value": b}]}]),
        ),
    )
    .await;
    measure("add 2 members", before, app.kc_calls());
    let before = app.kc_calls();
    app.patch(
        &format!("/Groups/{gid}"),
        &patch_ops(&json!([{"op": "Remove", "path": format!("members[value eq \"{a}\"]")}])),
    )
    .await;
    measure("remove 1 member", before, app.kc_calls());
    let before = app.kc_calls();
    app.patch(
        &format!("/Groups/{gid}"),
        &patch_ops(&json!([{"op": "Replace", "path": "displayName", "value": "Budget 2"}])),
    )
    .await;
    measure("rename", before, app.kc_calls());
    let before = app.kc_calls();
    app.delete(&format!("/Groups/{gid}")).await;
    measure("delete", before, app.kc_calls());
    println!("Keycloak calls per group operation: {rows:?}");
    // Every write asks Keycloak whether the group grants admin roles (one
    // call for a top-level group).
    let budget = [1, 1, 2, 6, 3, 3, 3];
    for ((name, calls), max) in rows.iter().zip(budget) {
        assert!(*calls <= max, "{name}: {calls} calls (budget {max})");
    }
}

/// A write that is always checked sends the group read and the group's
/// admin-role check together (two calls on the wire at once, one round trip
/// of latency); a PATCH that may change nothing reads first and checks after.
#[tokio::test]
async fn a_checked_group_write_reads_and_checks_at_once() {
    let app = common::spawn_app_with("gahead", LONG_CACHE).await;
    let member = user(&app, "ahead").await;
    let gid = group(&app, "Ahead").await;
    let path = format!("/Groups/{gid}");
    let add = patch_ops(&json!([{"op": "Add", "path": "members", "value": [{"value": member}]}]));
    let rename = patch_ops(&json!([{"op": "Replace", "path": "displayName", "value": "Ahead 2"}]));
    let mut peaks = Vec::new();
    app.kc_peak_in_flight();
    let reply = app.patch(&path, &add).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    peaks.push(("add a member", app.kc_peak_in_flight(), 2));
    let reply = app.patch(&path, &rename).await;
    assert!(matches!(reply.status, 200 | 204), "{}", reply.body);
    peaks.push(("rename", app.kc_peak_in_flight(), 1));
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Ahead 3",
        "members": [{"value": member}],
    });
    let reply = app.put(&path, &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    peaks.push(("replace", app.kc_peak_in_flight(), 2));
    assert_eq!(app.delete(&path).await.status, 204);
    peaks.push(("delete", app.kc_peak_in_flight(), 2));
    println!("Admin API calls on the wire at once: {peaks:?}");
    for (what, peak, expected) in peaks {
        assert_eq!(peak, expected, "{what}");
    }
    assert_eq!(app.get(&path).await.status, 404);
}

#[tokio::test]
async fn groups_carry_meta_created_and_last_modified_through_a_rename() {
    let app = spawn_app("gmeta").await;
    let reply = app.post("/Groups", &entra_group("Meta")).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let gid = reply.body["id"].as_str().expect("id").to_owned();
    let created = reply.body["meta"]["created"].clone();
    assert!(created.is_string(), "{}", reply.body);
    assert_eq!(
        reply.body["meta"]["lastModified"], created,
        "{}",
        reply.body
    );
    let read = app.get(&format!("/Groups/{gid}")).await;
    assert_eq!(read.body["meta"]["created"], created, "{}", read.body);
    let renamed = app
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(&json!([{"op": "replace", "path": "displayName", "value": "Meta EU"}])),
        )
        .await;
    assert!(
        renamed.status == 200 || renamed.status == 204,
        "{}",
        renamed.body
    );
    let after = app.get(&format!("/Groups/{gid}")).await;
    assert_eq!(after.body["displayName"], "Meta EU", "{}", after.body);
    assert_eq!(after.body["meta"]["created"], created, "{}", after.body);
    let (first, last) = (
        created.as_str().unwrap_or_default(),
        after.body["meta"]["lastModified"]
            .as_str()
            .unwrap_or_default(),
    );
    assert!(last >= first && !last.is_empty(), "{}", after.body);
}

#[tokio::test]
async fn a_request_naming_more_members_than_the_cap_is_refused_before_any_call() {
    let app = common::spawn_app("membercap").await;
    let members: Vec<Value> = (0..1_001)
        .map(|i| json!({"value": format!("00000000-0000-4000-8000-{i:012}")}))
        .collect();
    // Warm the realm state the credential check loads.
    assert_eq!(app.get("/Groups?count=1").await.status, 200);
    let before = app.kc_calls();
    let reply = app
        .post(
            "/Groups",
            &json!({"displayName": "Big", "members": members}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["scimType"], "invalidValue");
    assert!(
        reply.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("1001 members")),
        "{}",
        reply.body
    );
    assert_eq!(app.kc_calls(), before, "no call for the members");
}

/// Member adds and removes of different users to one group run side by side
/// (no group write lock for them): every change lands, nothing is lost or
/// doubled, and each costs the group read, the admin-role check and its
/// one membership call.
#[tokio::test]
async fn concurrent_member_changes_of_one_group_all_land() {
    let app = common::spawn_app_with("gconc", LONG_CACHE).await;
    let gid = group(&app, "Concurrent").await;
    let mut users = Vec::new();
    for i in 0..12 {
        users.push(user(&app, &format!("c{i}")).await);
    }
    let add = |uid: String| {
        let app = &app;
        let path = format!("/Groups/{gid}");
        async move {
            let ops = json!([{"op": "Add", "path": "members", "value": [{"value": uid}]}]);
            app.patch(&path, &patch_ops(&ops)).await
        }
    };
    let before = app.kc_calls();
    let replies = futures::future::join_all(users.iter().cloned().map(add)).await;
    let calls = app.kc_calls() - before;
    for reply in &replies {
        assert!(reply.status == 204 || reply.status == 200, "{}", reply.body);
    }
    assert_members(&app, &gid, &users.iter().collect::<Vec<_>>()).await;
    assert!(
        calls <= 3 * users.len() as u64,
        "{calls} calls for {} adds",
        users.len()
    );

    let (gone, kept) = users.split_at(6);
    let remove = |uid: String| {
        let app = &app;
        let path = format!("/Groups/{gid}");
        async move {
            let ops = json!([{"op": "Remove", "path": format!("members[value eq \"{uid}\"]")}]);
            app.patch(&path, &patch_ops(&ops)).await
        }
    };
    let replies = futures::future::join_all(gone.iter().cloned().map(remove)).await;
    for reply in &replies {
        assert!(reply.status == 204 || reply.status == 200, "{}", reply.body);
    }
    assert_members(&app, &gid, &kept.iter().collect::<Vec<_>>()).await;
}
