//! Full fidelity against a real Keycloak: every attribute of Entra's default
//! attribute mapping comes back as sent, value-path `PATCH`es change one value
//! and nothing else, bad input is refused before anything is written, and
//! the Keycloak limits the checks follow are pinned.

mod common;

use common::{assert_scim_error, spawn_app, TestApp};
use kc_scim::mapping::fidelity::{MAX_JSON_CHARS, MAX_VALUE_CHARS};
use kc_scim::mapping::MapperRule;
use serde_json::{json, Value};

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A user as Entra's default attribute mapping sends it (Microsoft's SCIM
/// tutorial, "user attributes"), with every attribute it maps filled in.
fn entra_default_user(n: &str) -> Value {
    json!({
        "schemas": [CORE, ENTERPRISE],
        "externalId": format!("ext-{n}"),
        "userName": format!("Full.User_{n}@Contoso.com"),
        "active": true,
        "displayName": "Full User",
        "title": "Principal Engineer",
        "preferredLanguage": "en-US",
        "name": {
            "formatted": "Ms. Full M. User III",
            "givenName": "Full",
            "familyName": "User",
            "middleName": "M.",
            "honorificPrefix": "Ms.",
            "honorificSuffix": "III"
        },
        "emails": [
            {"value": format!("Full.User_{n}@Contoso.com"), "type": "work", "primary": true},
            {"value": format!("full.alias_{n}@contoso.com"), "type": "other", "primary": false}
        ],
        "phoneNumbers": [
            {"value": "+1 425 555 0100", "type": "work", "primary": true},
            {"value": "+1 425 555 0101", "type": "mobile"},
            {"value": "+1 425 555 0102", "type": "fax"}
        ],
        "addresses": [{
            "type": "work",
            "primary": true,
            "formatted": "1 Microsoft Way\nRedmond, WA 98052\nUS",
            "streetAddress": "1 Microsoft Way",
            "locality": "Redmond",
            "region": "WA",
            "postalCode": "98052",
            "country": "US"
        }],
        ENTERPRISE: {
            "employeeNumber": "E-1001",
            "department": "Identity",
            "costCenter": "CC-42",
            "organization": "Contoso",
            "division": "Cloud",
            "manager": {"value": "manager-0001"}
        }
    })
}

fn patch_ops(ops: Value) -> Value {
    let mut body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]});
    body["Operations"] = ops;
    body
}

fn id(user: &Value) -> String {
    user["id"].as_str().expect("id").to_owned()
}

/// Every attribute of `sent` (but `schemas`), and every sub-attribute of an
/// object, equals the one in `got`; arrays compare whole.
fn assert_same_as_sent(sent: &Value, got: &Value) {
    let sent = sent.as_object().expect("object");
    for (key, value) in sent {
        if key == "schemas" {
            continue;
        }
        match value {
            Value::Object(inner) => {
                for (sub, v) in inner {
                    assert_eq!(&got[key][sub], v, "{key}.{sub} in {got}");
                }
            }
            _ => assert_eq!(&got[key], value, "{key} in {got}"),
        }
    }
}

#[tokio::test]
async fn every_default_entra_attribute_comes_back_as_sent() {
    let app = spawn_app("fidelity").await;
    let sent = entra_default_user("f1");
    let created = app.post("/Users", &sent).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_same_as_sent(&sent, &created.body);
    let uid = id(&created.body);
    let read = app.get(&format!("/Users/{uid}")).await;
    assert_eq!(read.status, 200);
    assert_same_as_sent(&sent, &read.body);

    // Keycloak holds the primary email in its own field, every email value
    // lowercased for its search, and the rest in declared attributes.
    let kc = app.kc_user(&uid).await;
    assert_eq!(kc.email.as_deref(), Some("full.user_f1@contoso.com"));
    let values = kc
        .attributes
        .as_ref()
        .and_then(|a| a.get("scimEmailValues"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        values,
        ["full.user_f1@contoso.com", "full.alias_f1@contoso.com"]
    );
    assert_eq!(kc.attribute("scimTitle"), Some("Principal Engineer"));
    assert_eq!(kc.attribute("scimDepartment"), Some("Identity"));

    // A PUT of the same body changes nothing a client sees.
    let put = app.put(&format!("/Users/{uid}"), &sent).await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_same_as_sent(&sent, &put.body);

    // Filters see the stored values.
    let by_title = app
        .get(&format!(
            "/Users?filter={}",
            urlencode(r#"title eq "Principal Engineer" and phoneNumbers[type eq "mobile"].value eq "+1 425 555 0101""#)
        ))
        .await;
    assert_eq!(by_title.status, 200, "{}", by_title.body);
    assert_eq!(by_title.body["totalResults"], 1, "{}", by_title.body);
    // A secondary email finds the user (Keycloak's email holds the primary).
    for f in [
        r#"emails.value eq "FULL.ALIAS_f1@contoso.com""#,
        r#"emails[type eq "other"].value co "alias_f1""#,
    ] {
        let found = app.get(&format!("/Users?filter={}", urlencode(f))).await;
        assert_eq!(found.status, 200, "{f}: {}", found.body);
        assert_eq!(found.body["totalResults"], 1, "{f}: {}", found.body);
        assert_eq!(found.body["Resources"][0]["id"], uid.as_str(), "{f}");
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn value_path_patches_change_one_value_and_nothing_else() {
    let app = spawn_app("valuepath").await;
    let sent = entra_default_user("v1");
    let created = app.post("/Users", &sent).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let uid = id(&created.body);
    let reply = app
        .patch(
            &format!("/Users/{uid}"),
            &patch_ops(json!([
                {"op": "Replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "2 Main St"},
                {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 425 555 0199"},
                {"op": "Add", "path": format!("{ENTERPRISE}:department"), "value": "Security"}
            ])),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let read = app.get(&format!("/Users/{uid}")).await;
    let mut expected = sent.clone();
    expected["addresses"][0]["streetAddress"] = json!("2 Main St");
    expected["phoneNumbers"][1]["value"] = json!("+1 425 555 0199");
    expected[ENTERPRISE]["department"] = json!("Security");
    assert_same_as_sent(&expected, &read.body);
    assert_same_as_sent(&expected, &reply.body);

    // Entra adds a value of a type the user does not have yet.
    let reply = app
        .patch(
            &format!("/Users/{uid}"),
            &patch_ops(json!([
                {"op": "Add", "path": "phoneNumbers[type eq \"home\"].value", "value": "+1 425 555 0177"}
            ])),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let phones = reply.body["phoneNumbers"].as_array().expect("phones");
    assert_eq!(phones.len(), 4, "{phones:?}");
    assert!(phones
        .iter()
        .any(|p| p["type"] == "home" && p["value"] == "+1 425 555 0177"));

    // Remove of a complex multi-valued attribute removes it.
    let reply = app
        .patch(
            &format!("/Users/{uid}"),
            &patch_ops(json!([{"op": "Remove", "path": "addresses"}])),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.get("addresses").is_none(), "{}", reply.body);
    let read = app.get(&format!("/Users/{uid}")).await;
    assert!(read.body.get("addresses").is_none(), "{}", read.body);
}

#[tokio::test]
async fn a_new_primary_email_by_patch_takes_the_primary_flag_and_keycloaks_email() {
    let app = spawn_app("primary").await;
    let created = app.post("/Users", &entra_default_user("p1")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let uid = id(&created.body);
    let reply = app
        .patch(
            &format!("/Users/{uid}"),
            &patch_ops(json!([{"op": "add", "path": "emails", "value": [
                {"value": "New.Primary@Contoso.com", "type": "home", "primary": true}
            ]}])),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let emails = reply.body["emails"].as_array().expect("emails").clone();
    assert_eq!(emails.len(), 3, "{emails:?}");
    let primaries: Vec<&Value> = emails.iter().filter(|e| e["primary"] == true).collect();
    assert_eq!(
        primaries.len(),
        1,
        "RFC 7644 §3.5.2: one primary, {emails:?}"
    );
    assert_eq!(primaries[0]["value"], "New.Primary@Contoso.com");
    let kc = app.kc_user(&uid).await;
    assert_eq!(kc.email.as_deref(), Some("new.primary@contoso.com"));
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_attribute_and_nothing_is_written() {
    let app = spawn_app("limits").await;
    let sent = entra_default_user("b1");
    let created = app.post("/Users", &sent).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let uid = id(&created.body);
    let before = app.get(&format!("/Users/{uid}")).await.body;

    let mut too_long = sent.clone();
    too_long["title"] = json!("t".repeat(MAX_VALUE_CHARS + 1));
    too_long["displayName"] = json!("Changed");
    let reply = app.put(&format!("/Users/{uid}"), &too_long).await;
    assert_scim_error(&reply, 400, Some("invalidValue"));
    assert!(
        reply.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("'title'")),
        "{}",
        reply.body
    );

    let reply = app
        .patch(
            &format!("/Users/{uid}"),
            &patch_ops(json!([
                {"op": "replace", "path": "displayName", "value": "Changed"},
                {"op": "add", "path": "phoneNumbers", "value": [{"value": "1", "type": "cell"}]}
            ])),
        )
        .await;
    assert_scim_error(&reply, 400, Some("invalidValue"));
    assert!(
        reply.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("phoneNumbers[3].type")),
        "{}",
        reply.body
    );

    let mut many = sent.clone();
    many["phoneNumbers"] = json!((0..21)
        .map(|i| json!({"value": format!("+1 {i}"), "type": "other"}))
        .collect::<Vec<_>>());
    let reply = app.put(&format!("/Users/{uid}"), &many).await;
    assert_scim_error(&reply, 400, Some("invalidValue"));

    let mut two_primaries = sent.clone();
    two_primaries["emails"][1]["primary"] = json!(true);
    let reply = app.put(&format!("/Users/{uid}"), &two_primaries).await;
    assert_scim_error(&reply, 400, Some("invalidValue"));

    let after = app.get(&format!("/Users/{uid}")).await.body;
    assert_eq!(before, after, "a refused write leaves the user as it was");

    let mut new_user = entra_default_user("b2");
    new_user["addresses"][0]["formatted"] = json!("f".repeat(MAX_JSON_CHARS));
    let reply = app.post("/Users", &new_user).await;
    assert_scim_error(&reply, 400, Some("invalidValue"));
    let found = app
        .get(&format!(
            "/Users?filter={}",
            urlencode(r#"userName eq "Full.User_b2@Contoso.com""#)
        ))
        .await;
    assert_eq!(found.body["totalResults"], 0, "no user was created");
}

#[tokio::test]
async fn keycloak_enforces_the_lengths_the_checks_follow() {
    // The limits in `fidelity` are Keycloak's: pin them on the real server.
    let app = spawn_app("kclimits").await;
    let created = app.post("/Users", &entra_default_user("k1")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let uid = id(&created.body);
    let write = |attribute: &'static str, len: usize| {
        let app = &app;
        let uid = uid.clone();
        async move {
            let mut kc = app.kc_user(&uid).await;
            let attrs = kc.attributes.get_or_insert_with(Default::default);
            attrs.insert(attribute.to_owned(), vec!["x".repeat(len)]);
            app.kc.update_user(&app.realm, &uid, &kc).await.is_ok()
        }
    };
    assert!(
        write("scimTitle", MAX_VALUE_CHARS).await,
        "at Keycloak's default limit"
    );
    assert!(
        !write("scimTitle", MAX_VALUE_CHARS + 1).await,
        "over Keycloak's default limit"
    );
    assert!(
        write("scimAddresses", MAX_JSON_CHARS).await,
        "at the declared limit"
    );
    assert!(
        !write("scimAddresses", MAX_JSON_CHARS + 1).await,
        "over the declared limit"
    );
}

#[tokio::test]
async fn secondary_email_and_a_console_edit_of_the_primary_one() {
    let app = spawn_app("emails").await;
    let created = app.post("/Users", &entra_default_user("e1")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let uid = id(&created.body);
    // An admin changes the email in the console: SCIM shows the new one in
    // the primary entry, and keeps the secondary one.
    let mut kc = app.kc_user(&uid).await;
    kc.email = Some("console.edit@contoso.com".to_owned());
    app.kc
        .update_user(&app.realm, &uid, &kc)
        .await
        .expect("update");
    let read = app.get(&format!("/Users/{uid}")).await.body;
    assert_eq!(
        read["emails"][0]["value"], "console.edit@contoso.com",
        "{read}"
    );
    assert_eq!(read["emails"][0]["primary"], true);
    assert_eq!(read["emails"][1]["value"], "full.alias_e1@contoso.com");
}

#[tokio::test]
async fn schemas_advertise_every_stored_attribute_and_a_mapper_exposes_one_as_a_claim() {
    let app = spawn_app("claims").await;
    let schemas = app.get("/Schemas").await;
    let docs = schemas.body["Resources"].as_array().expect("array").clone();
    let names = |urn: &str| -> Vec<String> {
        docs.iter()
            .find(|d| d["id"] == urn)
            .and_then(|d| d["attributes"].as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let core = names(CORE);
    for expected in [
        "title",
        "phoneNumbers",
        "addresses",
        "preferredLanguage",
        "emails",
        "roles",
    ] {
        assert!(
            core.iter().any(|n| n == expected),
            "{expected} missing from {core:?}"
        );
    }
    assert!(
        !core.iter().any(|n| n == "password"),
        "password is not stored"
    );
    let enterprise = names(ENTERPRISE);
    for expected in [
        "employeeNumber",
        "department",
        "costCenter",
        "organization",
        "division",
        "manager",
    ] {
        assert!(
            enterprise.iter().any(|n| n == expected),
            "{expected} missing from {enterprise:?}"
        );
    }

    // Stored is not a claim: the token shows `title` only once an admin maps it.
    let created = app.post("/Users", &entra_default_user("t1")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let uid = id(&created.body);
    let client = app.scim_client().await;
    assert!(example_token(&app, &client, &uid)
        .await
        .get("title")
        .is_none());
    let rule = MapperRule {
        name: "title".to_owned(),
        user_attribute: "scimTitle".to_owned(),
        claim_name: "title".to_owned(),
        json_type: "String".to_owned(),
    };
    app.kc
        .create_protocol_mapper(&app.realm, &client, &rule.to_kc())
        .await
        .expect("mapper");
    assert_eq!(
        example_token(&app, &client, &uid).await["title"],
        "Principal Engineer"
    );
    // And the SCIM side still reads and writes the same attribute.
    let read = app.get(&format!("/Users/{uid}")).await.body;
    assert_eq!(read["title"], "Principal Engineer");
}

async fn example_token(app: &TestApp, client: &str, uid: &str) -> Value {
    app.kc
        .get_realm_value(
            &app.realm,
            &[
                "clients",
                client,
                "evaluate-scopes",
                "generate-example-access-token",
            ],
            &[("userId", uid.to_owned()), ("scope", "openid".to_owned())],
        )
        .await
        .expect("token")
}
