//! Concurrent writes against a real Keycloak: Entra retries and parallel
//! provisioning threads must never leave two users with one `userName`, and
//! `If-Match` must make concurrent `PATCH`es of one version mutually exclusive.
//!
//! Every burst is released at once by a barrier, so the requests really
//! overlap in the sidecar and in Keycloak.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{assert_scim_error, into_reply, spawn_app, start_server, Reply};
use kc_scim::keycloak::UserQuery;
use serde_json::{json, Value};
use tokio::sync::Barrier;

/// Requests in one burst.
const BURST: usize = 32;
/// Bound on any single request of a burst.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// One request to `base` (a server address) for `realm`.
#[derive(Clone)]
struct Target {
    http: reqwest::Client,
    base: String,
    realm: String,
    token: String,
}

impl Target {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Reply {
        let mut req = self
            .http
            .request(
                method,
                format!("{}/realms/{}/scim/v2{path}", self.base, self.realm),
            )
            .bearer_auth(&self.token)
            .header("Content-Type", "application/scim+json")
            .body(body.to_string());
        if let Some(tag) = if_match {
            req = req.header("If-Match", tag);
        }
        let response = tokio::time::timeout(REQUEST_TIMEOUT, req.send())
            .await
            .expect("request answered within the bound")
            .expect("request sent");
        into_reply(response).await
    }
}

/// Sends `bodies[i]` to `targets[i % targets.len()]`, all released at once.
async fn burst(
    targets: &[Target],
    method: reqwest::Method,
    path: &str,
    bodies: Vec<Value>,
    if_match: Option<String>,
) -> Vec<Reply> {
    let barrier = Arc::new(Barrier::new(bodies.len()));
    let tasks: Vec<_> = bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let target = targets[i % targets.len()].clone();
            let barrier = barrier.clone();
            let method = method.clone();
            let path = path.to_owned();
            let if_match = if_match.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                target.send(method, &path, &body, if_match.as_deref()).await
            })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.expect("request task"));
    }
    replies
}

fn user_body(user_name: &str, given: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "active": true,
        "name": {"givenName": given, "familyName": "Race"}
    })
}

fn patch_body(ops: &Value) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": ops
    })
}

/// The same userName, in alternating letter case (SCIM `userName` is
/// `caseExact: false`, so every variant names the same user).
fn same_user_name_bodies(user_name: &str) -> Vec<Value> {
    (0..BURST)
        .map(|i| {
            let sent = if i % 2 == 0 {
                user_name.to_owned()
            } else {
                user_name.to_uppercase()
            };
            user_body(&sent, &format!("Racer{i}"))
        })
        .collect()
}

/// Exactly one 201; every other reply a SCIM 409 `uniqueness`; exactly one
/// user of that name in Keycloak, and it is the one the 201 returned.
async fn assert_one_winner(
    replies: &[Reply],
    kc: &kc_scim::keycloak::KcAdmin,
    realm: &str,
    name: &str,
) {
    let created: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(created.len(), 1, "exactly one create wins: {statuses:?}");
    for r in replies.iter().filter(|r| r.status != 201) {
        assert_scim_error(r, 409, Some("uniqueness"));
    }
    let found = kc
        .find_users(
            realm,
            &UserQuery {
                username: Some(name.to_lowercase()),
                max: 100,
                ..UserQuery::default()
            },
        )
        .await
        .expect("Keycloak lookup");
    assert_eq!(
        found.len(),
        1,
        "one user named {name} in Keycloak: {found:?}"
    );
    assert_eq!(
        found[0].id.as_deref(),
        created[0].body["id"].as_str(),
        "the user in Keycloak is the one the 201 returned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_user_name_make_exactly_one_user() {
    let app = spawn_app("race1").await;
    let target = Target {
        http: app.http.clone(),
        base: app.address.clone(),
        realm: app.realm.clone(),
        token: app.token.clone(),
    };
    let name = "Race_One@Contoso.com";
    let replies = burst(
        &[target],
        reqwest::Method::POST,
        "/Users",
        same_user_name_bodies(name),
        None,
    )
    .await;
    assert_one_winner(&replies, &app.kc, &app.realm, name).await;
    let listed = app
        .get(&format!(
            "/Users?filter={}",
            url::form_urlencoded::byte_serialize(format!("userName eq \"{name}\"").as_bytes())
                .collect::<String>()
        ))
        .await;
    assert_eq!(listed.body["totalResults"], 1, "{}", listed.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sidecars_on_one_keycloak_make_exactly_one_user() {
    let app = spawn_app("race2").await;
    let (second, _) = start_server(&common::serving(&[&app.realm], &[])).await;
    assert_ne!(second, app.address);
    let targets: Vec<Target> = [app.address.clone(), second]
        .into_iter()
        .map(|base| Target {
            http: app.http.clone(),
            base,
            realm: app.realm.clone(),
            token: app.token.clone(),
        })
        .collect();
    let name = "Race_Two@Contoso.com";
    let replies = burst(
        &targets,
        reqwest::Method::POST,
        "/Users",
        same_user_name_bodies(name),
        None,
    )
    .await;
    assert_one_winner(&replies, &app.kc, &app.realm, name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_with_one_if_match_let_exactly_one_through() {
    // The 31 losers queue behind the winner's write on one user; on a loaded
    // machine that queue outlasts the default wait (then 429, which is right
    // for the server but not what this test is about): wait long enough.
    let app = common::spawn_app_with("ifmatch", &[("KCSCIM_SCIM__QUEUE_WAIT_MS", "60000")]).await;
    let created = app
        .post("/Users", &user_body("If_Match@Contoso.com", "Start"))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let etag = created.header("etag").expect("ETag on create").to_owned();
    let target = Target {
        http: app.http.clone(),
        base: app.address.clone(),
        realm: app.realm.clone(),
        token: app.token.clone(),
    };
    let bodies: Vec<Value> = (0..BURST)
        .map(|i| {
            patch_body(&json!([
                {"op": "replace", "path": "name.givenName", "value": format!("Writer{i}")},
                {"op": "replace", "path": "externalId", "value": format!("ext-writer-{i}")}
            ]))
        })
        .collect();
    let replies = burst(
        &[target],
        reqwest::Method::PATCH,
        &format!("/Users/{id}"),
        bodies,
        Some(etag.clone()),
    )
    .await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    let winners: Vec<usize> = (0..replies.len())
        .filter(|&i| replies[i].status == 200)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one PATCH with If-Match {etag} may succeed: {statuses:?}"
    );
    for r in replies.iter().filter(|r| r.status != 200) {
        assert_scim_error(r, 412, None);
    }
    // No lost update: what Keycloak holds is the winner's write, whole.
    let w = winners[0];
    let now = app.get(&format!("/Users/{id}")).await;
    assert_eq!(
        now.body["name"]["givenName"],
        format!("Writer{w}"),
        "{}",
        now.body
    );
    assert_eq!(
        now.body["externalId"],
        format!("ext-writer-{w}"),
        "{}",
        now.body
    );
    assert_eq!(
        now.body, replies[w].body,
        "the winner's reply is the stored state"
    );
    let kc = app
        .kc
        .get_user(&app.realm, &id)
        .await
        .expect("admin GET")
        .expect("user");
    assert_eq!(
        kc.first_name.as_deref(),
        Some(format!("Writer{w}").as_str())
    );
    assert_eq!(
        kc.attribute("externalId"),
        Some(format!("ext-writer-{w}").as_str())
    );
    // The old version is spent: a late PATCH with it is refused too.
    let late = target_patch(&app, &id, &etag).await;
    assert_scim_error(&late, 412, None);
}

async fn target_patch(app: &common::TestApp, id: &str, etag: &str) -> Reply {
    let response = app
        .http
        .patch(app.scim(&format!("/Users/{id}")))
        .bearer_auth(&app.token)
        .header("Content-Type", "application/scim+json")
        .header("If-Match", etag)
        .body(
            patch_body(&json!([{"op": "replace", "path": "name.givenName", "value": "Late"}]))
                .to_string(),
        )
        .send()
        .await
        .expect("sent");
    into_reply(response).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_of_different_attributes_lose_no_update() {
    let app = spawn_app("lost").await;
    let created = app
        .post("/Users", &user_body("Lost_Update@Contoso.com", "Start"))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let target = Target {
        http: app.http.clone(),
        base: app.address.clone(),
        realm: app.realm.clone(),
        token: app.token.clone(),
    };
    // Each PATCH touches only its own attribute; none carries If-Match, so
    // all must succeed and every change must survive the others.
    let ops = [
        ("name.givenName", "Given-L"),
        ("name.familyName", "Family-L"),
        ("externalId", "ext-lost"),
        ("displayName", "Display-L"),
        ("active", "false"),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "manager-lost",
        ),
        (
            "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:tag",
            "tag-lost",
        ),
    ];
    let bodies: Vec<Value> = ops
        .iter()
        .map(|(path, value)| {
            let value = if *value == "false" {
                json!(false)
            } else {
                json!(value)
            };
            patch_body(&json!([{"op": "replace", "path": path, "value": value}]))
        })
        .collect();
    let replies = burst(
        &[target],
        reqwest::Method::PATCH,
        &format!("/Users/{id}"),
        bodies,
        None,
    )
    .await;
    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let kc = app
        .kc
        .get_user(&app.realm, &id)
        .await
        .expect("admin GET")
        .expect("user");
    let seen = json!({
        "firstName": kc.first_name,
        "lastName": kc.last_name,
        "externalId": kc.attribute("externalId"),
        "displayName": kc.attribute("displayName"),
        "enabled": kc.enabled,
        "manager": kc.attribute("manager"),
        "tag": kc.attribute("extensionAttribute1"),
    });
    assert_eq!(
        seen,
        json!({
            "firstName": "Given-L",
            "lastName": "Family-L",
            "externalId": "ext-lost",
            "displayName": "Display-L",
            "enabled": false,
            "manager": "manager-lost",
            "tag": "tag-lost",
        }),
        "every concurrent PATCH of a different attribute is in Keycloak"
    );
}
