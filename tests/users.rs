//! `/Users` against a real Keycloak, one named test per user scenario of
//! Microsoft's SCIM validation (request bodies from "Tutorial: Develop and
//! plan provisioning for a SCIM endpoint in Microsoft Entra ID",
//! <https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups>,
//! and "Known issues and resolutions with SCIM 2.0 protocol compliance",
//! <https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility>),
//! plus the Keycloak call budget per operation and the error contract.

mod common;

/// Call budgets are measured with warm caches that outlive the test.
const LONG_CACHE: &[(&str, &str)] = &[("KCSCIM_SCIM__CACHE_TTL_SECS", "300")];

use common::{assert_scim_error, spawn_app, Reply, TestApp};
use kc_scim::keycloak::{KcUser, UserQuery};
use kc_scim::mapping::SCIM_CLIENT_ID;
use serde_json::{json, Value};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";

/// Entra's create-user body (tutorial), with a unique userName, plus the
/// enterprise manager and the custom-extension tag of the product guide.
fn entra_user(n: &str) -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": format!("ext-{n}"),
        "userName": format!("Test_User_{n}@Contoso.com"),
        "active": true,
        "emails": [{
            "primary": true,
            "type": "work",
            "value": format!("test_user_{n}@testuser.com")
        }],
        "meta": {"resourceType": "User"},
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName"
        },
        "roles": [],
        ENTERPRISE: {"manager": {"value": "manager-0001"}, "department": "Sales"},
        CUSTOM: {"tag": "blue"}
    })
}

fn patch_ops(ops: Value) -> Value {
    let mut body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]});
    body["Operations"] = ops;
    body
}

async fn create(app: &TestApp, n: &str) -> Value {
    let reply = app.post("/Users", &entra_user(n)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}

fn id(user: &Value) -> String {
    user["id"].as_str().expect("id").to_owned()
}

fn filter(f: &str) -> String {
    format!(
        "/Users?filter={}",
        url::form_urlencoded::byte_serialize(f.as_bytes()).collect::<String>()
    )
}

#[tokio::test]
async fn test_connection_answers_an_empty_list() {
    let app = spawn_app("conn").await;
    let guid = uuid::Uuid::new_v4();
    let reply = app.get(&filter(&format!("userName eq \"{guid}\""))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/scim+json"));
    assert_eq!(reply.body["totalResults"], 0);
    assert_eq!(reply.body["Resources"], json!([]));
    assert_eq!(
        reply.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
}

#[tokio::test]
async fn create_user_with_entras_body_lands_in_keycloak_with_the_mapped_attributes() {
    let app = spawn_app("create").await;
    let reply = app.post("/Users", &entra_user("c1")).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let user = &reply.body;
    let uid = id(user);
    assert_eq!(
        reply.header("location"),
        user["meta"]["location"].as_str(),
        "Location equals meta.location"
    );
    assert!(reply
        .header("location")
        .is_some_and(|l| l.ends_with(&format!("/Users/{uid}"))));
    assert_eq!(reply.header("etag"), user["meta"]["version"].as_str());
    assert_eq!(
        user["userName"], "Test_User_c1@Contoso.com",
        "userName in the case sent"
    );
    assert_eq!(user["active"], true);
    assert_eq!(user["externalId"], "ext-c1");
    assert_eq!(user["name"]["givenName"], "givenName");
    assert_eq!(user["name"]["familyName"], "familyName");
    assert_eq!(user["emails"][0]["value"], "test_user_c1@testuser.com");
    assert_eq!(user[ENTERPRISE]["manager"]["value"], "manager-0001");
    assert_eq!(user[CUSTOM]["tag"], "blue");
    assert_eq!(user["meta"]["resourceType"], "User");
    assert!(user["meta"]["created"].is_string());
    assert!(user["meta"]["lastModified"].is_string());

    let kc = app.kc_user(&uid).await;
    assert_eq!(kc.username.as_deref(), Some("test_user_c1@contoso.com"));
    assert_eq!(kc.email.as_deref(), Some("test_user_c1@testuser.com"));
    assert_eq!(kc.first_name.as_deref(), Some("givenName"));
    assert_eq!(kc.last_name.as_deref(), Some("familyName"));
    assert_eq!(kc.enabled, Some(true));
    assert_eq!(kc.attribute("isSoftDeleted"), Some("true"));
    assert_eq!(
        kc.attribute("userPrincipalName"),
        Some("Test_User_c1@Contoso.com")
    );
    assert_eq!(kc.attribute("givenName"), Some("givenName"));
    assert_eq!(kc.attribute("surName"), Some("familyName"));
    assert_eq!(kc.attribute("manager"), Some("manager-0001"));
    assert_eq!(kc.attribute("extensionAttribute1"), Some("blue"));
    assert_eq!(kc.attribute("externalId"), Some("ext-c1"));

    // A token issued to the user through the scim-endpoint client carries the claims.
    let claims = app.example_token(&uid).await;
    assert_eq!(claims["userName"], "Test_User_c1@Contoso.com");
    assert_eq!(claims["active"], true);
    assert_eq!(claims["name"]["givenName"], "givenName");
    assert_eq!(claims["manager"], "manager-0001");
    assert_eq!(claims[format!("{CUSTOM}:tag")], "blue");
}

#[tokio::test]
async fn get_user_by_id() {
    let app = spawn_app("get").await;
    let created = create(&app, "g1").await;
    let reply = app.get(&format!("/Users/{}", id(&created))).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, created, "GET returns what POST returned");
    assert_eq!(reply.header("etag"), created["meta"]["version"].as_str());
}

#[tokio::test]
async fn filter_by_user_name_is_case_insensitive() {
    let app = spawn_app("fname").await;
    let created = create(&app, "f1").await;
    create(&app, "f2").await;
    for sent in ["Test_User_f1@Contoso.com", "TEST_USER_F1@CONTOSO.COM"] {
        let reply = app.get(&filter(&format!("userName eq \"{sent}\""))).await;
        assert_eq!(reply.body["totalResults"], 1, "{sent}: {}", reply.body);
        assert_eq!(reply.body["Resources"][0]["id"], created["id"]);
    }
}

#[tokio::test]
async fn filter_by_external_id() {
    let app = spawn_app("fext").await;
    let created = create(&app, "e1").await;
    create(&app, "e2").await;
    let reply = app.get(&filter("externalId eq \"ext-e1\"")).await;
    assert_eq!(reply.body["totalResults"], 1, "{}", reply.body);
    assert_eq!(reply.body["Resources"][0]["id"], created["id"]);
    // externalId is caseExact.
    let reply = app.get(&filter("externalId eq \"EXT-E1\"")).await;
    assert_eq!(reply.body["totalResults"], 0, "{}", reply.body);
}

#[tokio::test]
async fn filter_by_work_email() {
    let app = spawn_app("fmail").await;
    let created = create(&app, "m1").await;
    create(&app, "m2").await;
    let reply = app
        .get(&filter(
            "emails[type eq \"work\"].value eq \"test_user_m1@testuser.com\"",
        ))
        .await;
    assert_eq!(reply.body["totalResults"], 1, "{}", reply.body);
    assert_eq!(reply.body["Resources"][0]["id"], created["id"]);
}

#[tokio::test]
async fn patch_replace_in_the_documented_form() {
    let app = spawn_app("patch").await;
    let uid = id(&create(&app, "p1").await);
    let body = patch_ops(json!([
        {"op": "Replace", "path": "displayName", "value": "Pvlo"},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
        {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
        {"op": "Replace", "path": "externalId", "value": "Eqpj"},
        {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Eqpj"}
    ]));
    let reply = app.patch(&format!("/Users/{uid}"), &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["displayName"], "Pvlo");
    assert_eq!(reply.body["name"]["givenName"], "Gtfd");
    let kc = app.kc_user(&uid).await;
    assert_eq!(kc.email.as_deref(), Some("testbcwqnm@test.microsoft.com"));
    assert_eq!(kc.first_name.as_deref(), Some("Gtfd"));
    assert_eq!(kc.last_name.as_deref(), Some("Pkqf"));
    assert_eq!(kc.attribute("givenName"), Some("Gtfd"));
    assert_eq!(kc.attribute("surName"), Some("Pkqf"));
    assert_eq!(kc.attribute("externalId"), Some("Eqpj"));
    assert_eq!(kc.attribute("displayName"), Some("Pvlo"));
    // Unmapped attributes do not disturb the mapped ones.
    assert_eq!(kc.attribute("extensionAttribute1"), Some("blue"));
    let again = app.get(&format!("/Users/{uid}")).await;
    assert_eq!(again.body, reply.body, "PATCH response equals the next GET");
}

#[tokio::test]
async fn patch_feature_flag_form_without_path() {
    let app = spawn_app("flag").await;
    let uid = id(&create(&app, "ff").await);
    let body = patch_ops(json!([
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
        {"op": "replace", "value": {
            "displayName": "Bjfe",
            "name.givenName": "Kkom",
            "name.familyName": "Unua",
            "active": false,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "manager-0002",
            "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:tag": "green"
        }}
    ]));
    let reply = app
        .patch(&format!("/Users/{uid}?aadOptscim062020"), &body)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let kc = app.kc_user(&uid).await;
    assert_eq!(kc.email.as_deref(), Some("testmhvaes@test.microsoft.com"));
    assert_eq!(kc.first_name.as_deref(), Some("Kkom"));
    assert_eq!(kc.enabled, Some(false));
    assert_eq!(kc.attribute("isSoftDeleted"), Some("false"));
    assert_eq!(kc.attribute("manager"), Some("manager-0002"));
    assert_eq!(kc.attribute("extensionAttribute1"), Some("green"));
}

#[tokio::test]
async fn patch_with_null_and_empty_values_clears_attributes() {
    let app = spawn_app("nulls").await;
    let uid = id(&create(&app, "n1").await);
    let body = patch_ops(json!([
        {"op": "Replace", "path": "externalId", "value": null},
        {"op": "Replace", "path": "name.givenName", "value": ""},
        {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:tag", "value": ""}
    ]));
    let reply = app.patch(&format!("/Users/{uid}"), &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.get("externalId").is_none(), "{}", reply.body);
    let kc = app.kc_user(&uid).await;
    assert_eq!(kc.attribute("externalId"), None);
    assert_eq!(kc.attribute("givenName"), None);
    assert_eq!(kc.attribute("extensionAttribute1"), None);
    assert_eq!(kc.first_name.as_deref().unwrap_or(""), "");
    assert_eq!(
        kc.attribute("userPrincipalName"),
        Some("Test_User_n1@Contoso.com")
    );
}

#[tokio::test]
async fn manager_set_change_and_remove() {
    let app = spawn_app("mgr").await;
    let uid = id(&create(&app, "mg").await);
    let path = format!("/Users/{uid}");
    let manager = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
    let steps = [
        (
            json!([{"op": "Add", "path": manager, "value": "m-1"}]),
            Some("m-1"),
        ),
        (
            json!([{"op": "Replace", "path": manager, "value": {"value": "m-2"}}]),
            Some("m-2"),
        ),
        (
            json!([{"op": "Replace", "path": manager, "value": ""}]),
            None,
        ),
        (
            json!([{"op": "Add", "path": manager, "value": {"value": "m-3"}}]),
            Some("m-3"),
        ),
        (json!([{"op": "Remove", "path": manager}]), None),
    ];
    for (ops, expected) in steps {
        let reply = app.patch(&path, &patch_ops(ops.clone())).await;
        assert_eq!(reply.status, 200, "{ops}: {}", reply.body);
        assert_eq!(
            reply.body[ENTERPRISE]["manager"]["value"].as_str(),
            expected,
            "{ops}: {}",
            reply.body
        );
        assert_eq!(
            app.kc_user(&uid).await.attribute("manager"),
            expected,
            "{ops}"
        );
    }
}

#[tokio::test]
async fn disable_and_reenable_with_string_booleans() {
    let app = spawn_app("active").await;
    let uid = id(&create(&app, "a1").await);
    let path = format!("/Users/{uid}");
    for (value, enabled) in [("False", false), ("True", true)] {
        let body = patch_ops(json!([{"op": "Replace", "path": "active", "value": value}]));
        let reply = app.patch(&path, &body).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["active"], enabled);
        let kc = app.kc_user(&uid).await;
        assert_eq!(kc.enabled, Some(enabled));
        assert_eq!(
            kc.attribute("isSoftDeleted"),
            Some(if enabled { "true" } else { "false" })
        );
    }
}

/// RFC 7644 §3.5.2.2: a removed attribute is unassigned; a Keycloak user is
/// always enabled or disabled, and unassigned `active` is taken as "not
/// asserted active": the user is disabled, and a disabled one stays so.
#[tokio::test]
async fn patch_remove_active_disables_and_never_reenables() {
    let app = spawn_app("rm-active").await;
    let uid = id(&create(&app, "r1").await);
    let path = format!("/Users/{uid}");
    for op in [
        json!({"op": "remove", "path": "active"}),
        json!({"op": "remove", "path": "active"}),
        json!({"op": "replace", "path": "active", "value": true}),
        json!({"op": "replace", "path": "active", "value": null}),
    ] {
        let reply = app.patch(&path, &patch_ops(json!([op.clone()]))).await;
        assert_eq!(reply.status, 200, "{op}: {}", reply.body);
        let expected = op["value"] == json!(true);
        assert_eq!(reply.body["active"], expected, "{op}: {}", reply.body);
        assert_eq!(app.kc_user(&uid).await.enabled, Some(expected), "{op}");
        let read = app.get(&path).await;
        assert_eq!(read.body["active"], expected, "{op}: {}", read.body);
    }
}

#[tokio::test]
async fn delete_then_get_is_404() {
    let app = spawn_app("delete").await;
    let uid = id(&create(&app, "d1").await);
    let reply = app.delete(&format!("/Users/{uid}")).await;
    assert_eq!(reply.status, 204);
    let reply = app.get(&format!("/Users/{uid}")).await;
    assert_scim_error(&reply, 404, None);
    assert!(app
        .kc
        .get_user(&app.realm, &uid)
        .await
        .expect("admin")
        .is_none());
    let reply = app.delete(&format!("/Users/{uid}")).await;
    assert_scim_error(&reply, 404, None);
}

#[tokio::test]
async fn duplicate_create_is_409_uniqueness() {
    let app = spawn_app("dup").await;
    create(&app, "dd").await;
    let reply = app.post("/Users", &entra_user("dd")).await;
    assert_scim_error(&reply, 409, Some("uniqueness"));
    // userName differs only in case: still the same Keycloak username.
    let mut upper = entra_user("dd");
    upper["userName"] = json!("TEST_USER_DD@CONTOSO.COM");
    upper["emails"][0]["value"] = json!("other@testuser.com");
    let reply = app.post("/Users", &upper).await;
    assert_scim_error(&reply, 409, Some("uniqueness"));
    // Same email, other userName.
    let mut same_mail = entra_user("dd2");
    same_mail["emails"][0]["value"] = json!("test_user_dd@testuser.com");
    let reply = app.post("/Users", &same_mail).await;
    assert_scim_error(&reply, 409, Some("uniqueness"));
}

#[tokio::test]
async fn pagination_over_twelve_users() {
    let app = spawn_app("pages").await;
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(id(&create(&app, &format!("pg{i:02}")).await));
    }
    let mut seen = Vec::new();
    for start in [1, 6, 11] {
        let reply = app.get(&format!("/Users?startIndex={start}&count=5")).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["totalResults"], 12, "{}", reply.body);
        assert_eq!(reply.body["startIndex"], start);
        let page = reply.body["Resources"].as_array().expect("array").clone();
        assert_eq!(page.len(), if start == 11 { 2 } else { 5 });
        assert_eq!(reply.body["itemsPerPage"], page.len());
        seen.extend(
            page.iter()
                .map(|u| u["userName"].as_str().expect("name").to_owned()),
        );
    }
    let mut sorted = seen.clone();
    sorted.sort_by_key(|s| s.to_lowercase());
    assert_eq!(seen, sorted, "pages follow userName order");
    sorted.dedup();
    assert_eq!(sorted.len(), 12, "no user on two pages");
    let reply = app
        .get("/Users?sortBy=userName&sortOrder=descending&startIndex=1&count=3")
        .await;
    let names: Vec<_> = reply.body["Resources"]
        .as_array()
        .expect("array")
        .iter()
        .map(|u| u["userName"].as_str().expect("name").to_owned())
        .collect();
    assert_eq!(
        names,
        seen.iter().rev().take(3).cloned().collect::<Vec<_>>()
    );
    // Filtered paging.
    let reply = app
        .get(&format!(
            "{}&startIndex=2&count=2",
            filter("userName sw \"test_user_pg0\"")
        ))
        .await;
    assert_eq!(reply.body["totalResults"], 10, "{}", reply.body);
    assert_eq!(reply.body["Resources"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn put_replaces_the_user_and_clears_what_is_absent() {
    let app = spawn_app("put").await;
    let created = create(&app, "r1").await;
    let uid = id(&created);
    let mut body = entra_user("r1");
    body["name"]["givenName"] = json!("Replaced");
    body.as_object_mut().expect("object").remove(CUSTOM);
    body.as_object_mut().expect("object").remove("externalId");
    let reply = app.put(&format!("/Users/{uid}"), &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["name"]["givenName"], "Replaced");
    assert!(reply.body.get(CUSTOM).is_none(), "{}", reply.body);
    let kc = app.kc_user(&uid).await;
    assert_eq!(kc.first_name.as_deref(), Some("Replaced"));
    assert_eq!(kc.attribute("extensionAttribute1"), None);
    assert_eq!(kc.attribute("externalId"), None);
    assert_eq!(kc.attribute("manager"), Some("manager-0001"));
}

#[tokio::test]
async fn if_match_is_honoured_on_put_patch_and_delete() {
    let app = spawn_app("etag").await;
    let created = create(&app, "t1").await;
    let uid = id(&created);
    let path = app.scim(&format!("/Users/{uid}"));
    let version = created["meta"]["version"]
        .as_str()
        .expect("version")
        .to_owned();
    let body = patch_ops(json!([{"op": "Replace", "path": "displayName", "value": "one"}]));
    let send = |method: reqwest::Method, tag: &str, body: Option<&Value>| {
        let mut req = app
            .http
            .request(method, &path)
            .bearer_auth(&app.token)
            .header("If-Match", tag);
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/scim+json")
                .body(b.to_string());
        }
        req.send()
    };
    let stale = common::into_reply(
        send(reqwest::Method::PATCH, "W/\"0000\"", Some(&body))
            .await
            .expect("sent"),
    )
    .await;
    assert_scim_error(&stale, 412, None);
    let ok = common::into_reply(
        send(reqwest::Method::PATCH, &version, Some(&body))
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let newer = ok.body["meta"]["version"]
        .as_str()
        .expect("version")
        .to_owned();
    assert_ne!(newer, version, "a change makes a new version");
    let put_stale = common::into_reply(
        send(reqwest::Method::PUT, &version, Some(&entra_user("t1")))
            .await
            .expect("sent"),
    )
    .await;
    assert_scim_error(&put_stale, 412, None);
    let del_stale = common::into_reply(
        send(reqwest::Method::DELETE, &version, None)
            .await
            .expect("sent"),
    )
    .await;
    assert_scim_error(&del_stale, 412, None);
    let del = common::into_reply(
        send(reqwest::Method::DELETE, &newer, None)
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(del.status, 204);
}

#[tokio::test]
async fn keycloak_call_budget_per_operation() {
    let app = common::spawn_app_with("budget", LONG_CACHE).await;
    // Warm the per-realm caches (settings, mappers, service accounts).
    let warm = id(&create(&app, "warm").await);
    app.delete(&format!("/Users/{warm}")).await;

    let measure = |before: u64| app.kc_calls() - before;
    let b = app.kc_calls();
    let uid = id(&create(&app, "b1").await);
    let create_calls = measure(b);
    let b = app.kc_calls();
    app.get(&format!("/Users/{uid}")).await;
    let get_calls = measure(b);
    let b = app.kc_calls();
    let r = app
        .get(&filter("userName eq \"Test_User_b1@Contoso.com\""))
        .await;
    assert_eq!(r.body["totalResults"], 1);
    let by_name = measure(b);
    let b = app.kc_calls();
    let r = app.get(&filter("externalId eq \"ext-b1\"")).await;
    assert_eq!(r.body["totalResults"], 1);
    let by_external = measure(b);
    let b = app.kc_calls();
    app.kc_peak_in_flight();
    let r = app
        .patch(
            &format!("/Users/{uid}"),
            &patch_ops(json!([{"op": "Replace", "path": "displayName", "value": "x"}])),
        )
        .await;
    assert_eq!(r.status, 200);
    let patch_calls = measure(b);
    let patch_peak = app.kc_peak_in_flight();
    let b = app.kc_calls();
    let r = app.put(&format!("/Users/{uid}"), &entra_user("b1")).await;
    assert_eq!(r.status, 200);
    let put_calls = measure(b);
    let put_peak = app.kc_peak_in_flight();
    let b = app.kc_calls();
    let r = app.delete(&format!("/Users/{uid}")).await;
    assert_eq!(r.status, 204);
    let delete_calls = measure(b);
    let delete_peak = app.kc_peak_in_flight();
    // The read and the admin-role check of a write go out together: two
    // calls on the wire at once, one round trip of latency.
    assert_eq!(
        (patch_peak, put_peak, delete_peak),
        (2, 2, 2),
        "calls on the wire at once (patch, put, delete)"
    );
    let budget = [
        ("create", create_calls, 2),
        ("get", get_calls, 1),
        ("userName eq", by_name, 1),
        ("externalId eq", by_external, 1),
        // Writes ask Keycloak whether the user holds admin roles (one call).
        ("patch", patch_calls, 3),
        ("put", put_calls, 3),
        // A delete also reads the user first, for the ownership check
        // (docs/security.md), and ends the user's sessions.
        ("delete", delete_calls, 4),
    ];
    println!("Keycloak calls per SCIM operation: {budget:?}");
    for (op, calls, max) in budget {
        assert!(
            calls <= max,
            "{op} made {calls} Keycloak calls (budget {max})"
        );
    }
}

#[tokio::test]
async fn discovery_documents_list_what_round_trips() {
    let app = spawn_app("disco").await;
    let spc = app.get("/ServiceProviderConfig").await;
    assert_eq!(spc.status, 200);
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["filter"]["supported"], true);
    let types = app.get("/ResourceTypes").await;
    assert_eq!(types.body["Resources"][0]["endpoint"], "/Users");
    let schemas = app.get("/Schemas").await;
    let docs = schemas.body["Resources"].as_array().expect("array").clone();
    let user = docs
        .iter()
        .find(|d| d["id"] == "urn:ietf:params:scim:schemas:core:2.0:User")
        .expect("user schema");
    let names: Vec<&str> = user["attributes"]
        .as_array()
        .expect("attributes")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    for expected in [
        "userName",
        "name",
        "displayName",
        "active",
        "emails",
        "externalId",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    // `meta` is a common attribute (RFC 7643 §3.1), not listed; `id` is.
    assert!(
        names.contains(&"id") && !names.contains(&"meta"),
        "{names:?}"
    );
    for stored in ["title", "phoneNumbers", "addresses"] {
        assert!(
            names.contains(&stored),
            "{stored} stored but not advertised"
        );
    }
    assert!(
        !names.contains(&"password"),
        "password advertised but not stored"
    );
    let enterprise = docs
        .iter()
        .find(|d| d["id"] == ENTERPRISE)
        .expect("enterprise schema");
    let enterprise_names: Vec<&str> = enterprise["attributes"]
        .as_array()
        .expect("attributes")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert!(
        enterprise_names.contains(&"manager"),
        "{enterprise_names:?}"
    );
    assert!(
        docs.iter().any(|d| d["id"] == CUSTOM),
        "custom extension advertised"
    );
}

#[tokio::test]
async fn a_new_mapper_takes_effect_without_a_restart() {
    let app = spawn_app("mapper").await;
    let client = app
        .kc
        .find_client(&app.realm, SCIM_CLIENT_ID)
        .await
        .expect("lookup")
        .and_then(|c| c.id)
        .expect("client");
    // An admin maps SCIM `title` to a new attribute and declares it.
    let rule = kc_scim::mapping::MapperRule {
        name: "jobTitle".to_owned(),
        user_attribute: "jobTitle".to_owned(),
        claim_name: "title".to_owned(),
        json_type: "String".to_owned(),
    };
    app.kc
        .create_protocol_mapper(&app.realm, &client, &rule.to_kc())
        .await
        .expect("mapper");
    let mut profile = app.kc.user_profile(&app.realm).await.expect("profile");
    profile["attributes"]
        .as_array_mut()
        .expect("attributes")
        .push(json!({"name": "jobTitle", "permissions": {"view": ["admin"], "edit": ["admin"]}}));
    app.kc
        .update_user_profile(&app.realm, &profile)
        .await
        .expect("profile");
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await; // cache TTL of the test server
    let mut body = entra_user("mt");
    body["title"] = json!("Engineer");
    let reply = app.post("/Users", &body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["title"], "Engineer");
    let kc = app.kc_user(&id(&reply.body)).await;
    assert_eq!(kc.attribute("jobTitle"), Some("Engineer"));
}

// ---- protection ----------------------------------------------------------

#[tokio::test]
async fn admin_users_and_service_accounts_are_read_only() {
    let app = spawn_app("protect").await;
    let admin = id(&create(&app, "adm").await);
    common::grant_realm_admin(&app, "users", &admin).await;
    let body = patch_ops(json!([{"op": "Replace", "path": "active", "value": false}]));
    // The protected set is cached: wait out the test server's short TTL.
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let reply = app.patch(&format!("/Users/{admin}"), &body).await;
    assert_scim_error(&reply, 403, None);
    let reply = app.delete(&format!("/Users/{admin}")).await;
    assert_scim_error(&reply, 403, None);
    assert_eq!(app.kc_user(&admin).await.enabled, Some(true));

    // The scim-endpoint service account never appears and cannot be touched.
    let sa = app.service_account_of(&app.scim_client().await).await;
    let sa_id = sa.as_str();
    let reply = app.get(&format!("/Users/{sa_id}")).await;
    assert_scim_error(&reply, 404, None);
    let reply = app.get(&filter("userName sw \"service-account\"")).await;
    assert_eq!(reply.body["totalResults"], 0, "{}", reply.body);
    let reply = app.get("/Users").await;
    assert!(
        reply.body["Resources"]
            .as_array()
            .expect("array")
            .iter()
            .all(|u| u["id"] != sa_id),
        "service account listed"
    );
    let reply = app.delete(&format!("/Users/{sa_id}")).await;
    assert_scim_error(&reply, 404, None);
}

/// A client given a service account after the service accounts were read
/// (and cached for minutes here) is hidden from its first moment, as is a
/// user merely named like one; SCIM neither creates nor renames a user to
/// such a name, and the refusals write nothing.
#[tokio::test]
async fn service_accounts_are_hidden_from_their_first_moment_and_their_names_are_refused() {
    let app = common::spawn_app_with("sa-late", LONG_CACHE).await;
    let plain = create(&app, "plain").await;
    let plain_id = id(&plain);
    // Any lookup reads (and caches) the realm's service accounts.
    let reply = app.get(&filter("userName eq \"nobody@contoso.com\"")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let late = common::service_account_client("late-app");
    let client = app
        .kc
        .create_client(&app.realm, &late)
        .await
        .expect("client created");
    let sa_id = app.service_account_of(&client).await;
    let reply = app
        .get(&filter("userName eq \"service-account-late-app\""))
        .await;
    assert_eq!(reply.body["totalResults"], 0, "{}", reply.body);
    assert_scim_error(&app.get(&format!("/Users/{sa_id}")).await, 404, None);
    let off = patch_ops(json!([{"op": "Replace", "path": "active", "value": false}]));
    let reply = app.patch(&format!("/Users/{sa_id}"), &off).await;
    assert_scim_error(&reply, 404, None);
    assert_scim_error(&app.delete(&format!("/Users/{sa_id}")).await, 404, None);
    assert_eq!(app.kc_user(&sa_id).await.enabled, Some(true));

    // A user of that name made in the console is not a service account,
    // but SCIM cannot tell it from one: not shown either.
    let lookalike = KcUser {
        username: Some("service-account-lookalike".to_owned()),
        enabled: Some(true),
        ..KcUser::default()
    };
    let lookalike_id = app
        .kc
        .create_user(&app.realm, &lookalike)
        .await
        .expect("user created");
    assert_scim_error(&app.get(&format!("/Users/{lookalike_id}")).await, 404, None);
    let reply = app.get("/Users?count=100").await;
    let listed: Vec<&str> = reply.body["Resources"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|u| u["id"].as_str())
        .collect();
    assert!(listed.contains(&plain_id.as_str()), "{}", reply.body);
    assert!(!listed.contains(&lookalike_id.as_str()), "{}", reply.body);

    let mut body = entra_user("sa-made");
    body["userName"] = json!("Service-Account-Made-By-Scim");
    assert_scim_error(&app.post("/Users", &body).await, 400, Some("invalidValue"));
    let made = app
        .kc
        .find_users(
            &app.realm,
            &UserQuery {
                username: Some("service-account-made-by-scim".to_owned()),
                max: 10,
                ..UserQuery::default()
            },
        )
        .await
        .expect("search");
    assert!(made.is_empty(), "created: {made:?}");
    let rename = patch_ops(json!([
        {"op": "Replace", "path": "userName", "value": "service-account-renamed"}
    ]));
    let reply = app.patch(&format!("/Users/{plain_id}"), &rename).await;
    assert_scim_error(&reply, 400, Some("invalidValue"));
    assert_eq!(
        app.kc_user(&plain_id).await.username.as_deref(),
        plain["userName"].as_str().map(str::to_lowercase).as_deref()
    );
}

// ---- the error contract -------------------------------------------------

async fn raw(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Reply {
    let response = app
        .http
        .request(method, app.scim(path))
        .bearer_auth(&app.token)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .expect("sent");
    common::into_reply(response).await
}

#[tokio::test]
async fn bad_requests_get_4xx_with_the_right_scim_type() {
    let app = spawn_app("errors").await;
    let uid = id(&create(&app, "x1").await);
    let user_path = format!("/Users/{uid}");
    let post = reqwest::Method::POST;

    let r = raw(
        &app,
        post.clone(),
        "/Users",
        "application/scim+json",
        b"{\"userName\": ".to_vec(),
    )
    .await;
    assert_scim_error(&r, 400, Some("invalidSyntax"));
    let r = raw(
        &app,
        post.clone(),
        "/Users",
        "text/plain",
        entra_user("x2").to_string().into_bytes(),
    )
    .await;
    assert_eq!(r.status, 415, "{}", r.body);
    assert_scim_error(&r, 415, None);
    let huge = format!("{{\"userName\":\"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let r = raw(
        &app,
        post.clone(),
        "/Users",
        "application/scim+json",
        huge.into_bytes(),
    )
    .await;
    assert_scim_error(&r, 413, None);
    let r = raw(
        &app,
        post.clone(),
        "/Users",
        "application/json",
        vec![0xff, 0xfe, b'{'],
    )
    .await;
    assert_scim_error(&r, 400, Some("invalidSyntax"));
    let r = app.get(&filter("userName eq")).await;
    assert_scim_error(&r, 400, Some("invalidFilter"));
    let r = app.get(&filter("(userName eq \"a\"")).await;
    assert_scim_error(&r, 400, Some("invalidFilter"));
    let mut wrong_id = entra_user("x1");
    wrong_id["id"] = json!("another-id");
    let r = app.put(&user_path, &wrong_id).await;
    assert_scim_error(&r, 400, Some("mutability"));
    let r = app
        .patch(
            &user_path,
            &patch_ops(json!([{"op": "Replace", "path": "urn:example:unknown:2.0:User:foo", "value": "x"}])),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidPath"));
    let r = app
        .patch(
            &user_path,
            &patch_ops(json!([{"op": "Replace", "path": "id", "value": "x"}])),
        )
        .await;
    assert_scim_error(&r, 400, Some("mutability"));
    let r = app
        .patch(
            &user_path,
            &patch_ops(json!([{"op": "Frobnicate", "path": "displayName", "value": "x"}])),
        )
        .await;
    assert_scim_error(&r, 400, None);
    let r = app
        .post("/Users", &json!({"name": {"givenName": "no userName"}}))
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = app
        .post("/Users", &json!({"userName": "x3", "active": "maybe"}))
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let mut bad_mail = entra_user("x4");
    bad_mail["emails"][0]["value"] = json!("not an email");
    let r = app.post("/Users", &bad_mail).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("emails")),
        "{}",
        r.body
    );
    let r = app.get("/Users?count=abc").await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = app.get("/Users/does-not-exist").await;
    assert_scim_error(&r, 404, None);
    let r = app.get("/Nope").await;
    assert_scim_error(&r, 404, None);
    // The directory is unchanged by all of that.
    let r = app.get("/Users").await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
}

#[tokio::test]
async fn credentials_are_checked_per_realm() {
    let app = spawn_app("authz").await;
    let other = spawn_app("authz2").await;
    let r = common::into_reply(
        app.http
            .get(app.scim("/Users"))
            .bearer_auth(&other.token)
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_scim_error(&r, 401, None);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let r = common::into_reply(app.http.get(app.scim("/Users")).send().await.expect("sent")).await;
    assert_scim_error(&r, 401, None);
    let r = common::into_reply(
        app.http
            .get(app.scim("/Users"))
            .header("Authorization", format!("Basic {}", app.token))
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_scim_error(&r, 401, None);
    let r = common::into_reply(
        app.http
            .get(format!(
                "{}/realms/no-such-realm/scim/v2/Users",
                app.address
            ))
            .bearer_auth(&app.token)
            .send()
            .await
            .expect("sent"),
    )
    .await;
    // A realm that is not served answers like a bad credential.
    assert_scim_error(&r, 401, None);
}

#[tokio::test]
async fn keycloak_down_is_503_with_retry_after() {
    let settings = common::app_settings(&[("KCSCIM_KEYCLOAK__URL", "http://127.0.0.1:9")]);
    let (address, _) = common::start_server(&settings).await;
    let r = common::into_reply(
        reqwest::Client::new()
            .get(format!("{address}/realms/any/scim/v2/Users"))
            .bearer_auth("whatever")
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_scim_error(&r, 503, None);
    assert!(r.header("retry-after").is_some());
    let ready = reqwest::Client::new()
        .get(format!("{address}/readyz"))
        .send()
        .await
        .expect("sent");
    assert_eq!(ready.status().as_u16(), 503);
}

#[tokio::test]
async fn renames_by_patch_with_and_without_path_and_by_put_follow_through() {
    let app = spawn_app("rename").await;
    let created = create(&app, "ren").await;
    let uid = id(&created);
    let old = created["userName"].as_str().expect("userName").to_owned();
    let renames = [
        (
            "PATCH path",
            json!([{"op": "Replace", "path": "userName", "value": "Renamed_One@Contoso.com"}]),
        ),
        (
            "PATCH no path",
            json!([{"op": "replace", "value": {"userName": "Renamed_Two@Contoso.com"}}]),
        ),
    ];
    let mut previous = old.clone();
    for (how, ops) in renames {
        let new = ops[0]["value"]
            .as_str()
            .or_else(|| ops[0]["value"]["userName"].as_str())
            .expect("new name")
            .to_owned();
        let reply = app.patch(&format!("/Users/{uid}"), &patch_ops(ops)).await;
        assert_eq!(reply.status, 200, "{how}: {}", reply.body);
        assert_renamed(&app, &uid, &previous, &new, how).await;
        previous = new;
    }
    let mut body = entra_user("ren");
    body["userName"] = json!("Renamed_Three@Contoso.com");
    let reply = app.put(&format!("/Users/{uid}"), &body).await;
    assert_eq!(reply.status, 200, "PUT: {}", reply.body);
    assert_renamed(&app, &uid, &previous, "Renamed_Three@Contoso.com", "PUT").await;
}

/// The user answers under `new`, not under `old`, and Keycloak's username
/// and the mapped `userPrincipalName` attribute follow.
async fn assert_renamed(app: &TestApp, uid: &str, old: &str, new: &str, how: &str) {
    let now = app.get(&format!("/Users/{uid}")).await;
    assert!(
        now.body["userName"]
            .as_str()
            .is_some_and(|u| u.eq_ignore_ascii_case(new)),
        "{how}: {}",
        now.body
    );
    let found = app.get(&filter(&format!("userName eq \"{new}\""))).await;
    assert_eq!(found.body["totalResults"], 1, "{how}: {}", found.body);
    let gone = app.get(&filter(&format!("userName eq \"{old}\""))).await;
    assert_eq!(gone.body["totalResults"], 0, "{how}: {}", gone.body);
    let kc = app.kc_user(uid).await;
    assert_eq!(
        kc.username.as_deref(),
        Some(new.to_lowercase().as_str()),
        "{how}"
    );
    assert_eq!(kc.attribute("userPrincipalName"), Some(new), "{how}");
}

#[tokio::test]
async fn patch_remove_name_leaves_no_name_behind() {
    let app = spawn_app("noname").await;
    let uid = id(&create(&app, "nn").await);
    let reply = app
        .patch(
            &format!("/Users/{uid}"),
            &patch_ops(json!([{"op": "remove", "path": "name"}])),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.get("name").is_none(), "{}", reply.body);
    let now = app.get(&format!("/Users/{uid}")).await;
    assert!(now.body.get("name").is_none(), "{}", now.body);
    // Keycloak's own view: no first or last name left.
    let kc = app.kc_user(&uid).await;
    assert!(kc.first_name.as_deref().unwrap_or_default().is_empty());
    assert!(kc.last_name.as_deref().unwrap_or_default().is_empty());
}
