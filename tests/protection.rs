//! Escalation through Keycloak's role model, against a real Keycloak: admin
//! roles reached through a client role that is a composite of `realm-admin`,
//! through nested realm composites, and through group ancestors at any depth
//! protect the group (no member added or removed, no attribute changed) and
//! every user who holds them (no PATCH, PUT or DELETE). Each attack is made
//! right after the grant: nothing is cached, so there is no window.

mod common;

use common::{assert_scim_error, spawn_app, TestApp};
use serde_json::{json, Value};

fn patch_ops(ops: &Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

fn scim_group(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "externalId": format!("ext-{name}"),
        "displayName": name,
    })
}

fn scim_user(n: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("prot_{n}@contoso.com"),
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": format!("prot_{n}@contoso.com")}],
        "name": {"givenName": "Prot", "familyName": n}
    })
}

async fn user(app: &TestApp, n: &str) -> String {
    let reply = app.post("/Users", &scim_user(n)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_owned()
}

async fn group(app: &TestApp, name: &str) -> String {
    let reply = app.post("/Groups", &scim_group(name)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_owned()
}

fn add_member(uid: &str) -> Value {
    patch_ops(&json!([{"op": "Add", "path": "members", "value": [{"value": uid}]}]))
}

/// The master admin on the Admin API of the app's realm, for the set-up
/// SCIM must not be able to do itself.
struct Admin {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Admin {
    async fn of(app: &TestApp) -> Self {
        Self {
            base: format!("{}/admin/realms/{}", common::kc_url(), app.realm),
            token: common::master_admin_token(&app.kc).await,
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str) -> Value {
        let reply = self
            .http
            .get(format!("{}/{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("admin get");
        assert!(
            reply.status().is_success(),
            "GET {path}: {}",
            reply.status()
        );
        reply.json().await.expect("json")
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) {
        let mut req = self
            .http
            .request(method.clone(), format!("{}/{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let status = req.send().await.expect("admin write").status();
        assert!(status.is_success(), "{method} {path}: {status}");
    }

    async fn post(&self, path: &str, body: &Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await;
    }

    async fn client_id(&self, client_id: &str) -> String {
        self.get(&format!("clients?clientId={client_id}")).await[0]["id"]
            .as_str()
            .expect("client")
            .to_owned()
    }

    /// A new client `app` with a role `super` that is a composite of
    /// `realm-management/realm-admin`; returns the role.
    async fn client_role_including_realm_admin(&self) -> (String, Value) {
        self.post("clients", &json!({"clientId": "app"})).await;
        let app = self.client_id("app").await;
        let rm = self.client_id("realm-management").await;
        self.post(&format!("clients/{app}/roles"), &json!({"name": "super"}))
            .await;
        let realm_admin = self.get(&format!("clients/{rm}/roles/realm-admin")).await;
        self.post(
            &format!("clients/{app}/roles/super/composites"),
            &json!([realm_admin]),
        )
        .await;
        let role = self.get(&format!("clients/{app}/roles/super")).await;
        (app, role)
    }

    async fn grant_client_role(&self, kind: &str, id: &str, client: &str, role: &Value) {
        self.post(
            &format!("{kind}/{id}/role-mappings/clients/{client}"),
            &json!([role]),
        )
        .await;
    }

    /// The `realm-management` roles `user` holds, as Keycloak evaluates them.
    async fn effective_admin_roles(&self, user: &str) -> Vec<Value> {
        let rm = self.client_id("realm-management").await;
        self.get(&format!(
            "users/{user}/role-mappings/clients/{rm}/composite"
        ))
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
    }

    async fn members(&self, group: &str) -> Vec<String> {
        self.get(&format!("groups/{group}/members"))
            .await
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u["id"].as_str().map(str::to_owned))
            .collect()
    }
}

/// A chain of groups `/n0/n1/…` made through the Admin API; returns the ids
/// top first.
async fn group_chain(app: &TestApp, names: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for name in names {
        let id = app
            .kc
            .create_group(
                &app.realm,
                ids.last().map(String::as_str),
                &kc_scim::keycloak::KcGroup {
                    name: (*name).to_owned(),
                    ..Default::default()
                },
            )
            .await
            .expect("group");
        ids.push(id);
    }
    ids
}

/// Places SCIM groups under `path` and drops the realm's cached state.
async fn set_group_parent(app: &TestApp, path: &str) {
    let set = common::kc_scim(
        &[
            "realm",
            "set",
            "--realm",
            &app.realm,
            "--group-parent",
            path,
        ],
        &common::kc_env(),
    );
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    app.directory.invalidate(&app.realm).await;
}

/// The attack of the issue: a client role that includes `realm-admin`,
/// assigned to a group two levels above the SCIM group.
#[tokio::test]
async fn a_client_role_including_realm_admin_two_levels_up_protects_the_group() {
    let app = spawn_app("pgrand").await;
    let admin = Admin::of(&app).await;
    let chain = group_chain(&app, &["corp", "scim"]).await;
    set_group_parent(&app, "/corp/scim").await;
    let gid = group(&app, "Team").await;
    let attacker = user(&app, "attacker").await;
    let (client, role) = admin.client_role_including_realm_admin().await;
    admin
        .grant_client_role("groups", &chain[0], &client, &role)
        .await;

    let reply = app
        .patch(&format!("/Groups/{gid}"), &add_member(&attacker))
        .await;
    assert_scim_error(&reply, 403, None);
    assert!(admin.members(&gid).await.is_empty(), "nothing was written");
    assert!(admin.effective_admin_roles(&attacker).await.is_empty());
    let mut put = scim_group("Team");
    put["members"] = json!([{"value": attacker}]);
    assert_scim_error(&app.put(&format!("/Groups/{gid}"), &put).await, 403, None);
    assert_scim_error(&app.delete(&format!("/Groups/{gid}")).await, 403, None);
    assert!(admin.members(&gid).await.is_empty(), "nothing was written");
}

/// Keycloak's group inheritance has no depth limit; neither has the check.
#[tokio::test]
async fn an_admin_role_ten_levels_up_protects_the_group() {
    let app = spawn_app("pdeep").await;
    let admin = Admin::of(&app).await;
    let names = ["d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9"];
    let chain = group_chain(&app, &names).await;
    set_group_parent(&app, &format!("/{}", names.join("/"))).await;
    let gid = group(&app, "Deep").await;
    let attacker = user(&app, "deep").await;
    common::grant_realm_admin(&app, "groups", &chain[0]).await;

    let reply = app
        .patch(&format!("/Groups/{gid}"), &add_member(&attacker))
        .await;
    assert_scim_error(&reply, 403, None);
    assert!(admin.members(&gid).await.is_empty(), "nothing was written");
}

/// A realm role including a realm role that includes `manage-users`: the
/// group holding the outer one, and its members, are read-only.
#[tokio::test]
async fn a_nested_realm_composite_protects_its_group_and_its_members() {
    let app = spawn_app("pnest").await;
    let admin = Admin::of(&app).await;
    let gid = group(&app, "Helpdesk").await;
    let insider = user(&app, "insider").await;
    let reply = app
        .patch(&format!("/Groups/{gid}"), &add_member(&insider))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let attacker = user(&app, "nested").await;
    let rm = admin.client_id("realm-management").await;
    let manage_users = admin.get(&format!("clients/{rm}/roles/manage-users")).await;
    admin.post("roles", &json!({"name": "outer"})).await;
    admin.post("roles", &json!({"name": "inner"})).await;
    admin
        .post("roles/inner/composites", &json!([manage_users]))
        .await;
    let inner = admin.get("roles/inner").await;
    admin.post("roles/outer/composites", &json!([inner])).await;
    let outer = admin.get("roles/outer").await;
    admin
        .post(
            &format!("groups/{gid}/role-mappings/realm"),
            &json!([outer]),
        )
        .await;

    let reply = app
        .patch(&format!("/Groups/{gid}"), &add_member(&attacker))
        .await;
    assert_scim_error(&reply, 403, None);
    assert_eq!(admin.members(&gid).await, vec![insider.clone()]);
    assert!(admin.effective_admin_roles(&attacker).await.is_empty());
    let disable = patch_ops(&json!([{"op": "Replace", "path": "active", "value": false}]));
    assert_scim_error(
        &app.patch(&format!("/Users/{insider}"), &disable).await,
        403,
        None,
    );
    assert_scim_error(&app.delete(&format!("/Users/{insider}")).await, 403, None);
    let kept = app.get(&format!("/Users/{insider}")).await;
    assert_eq!(kept.status, 200, "{}", kept.body);
    assert_eq!(kept.body["active"], true);
}

/// A user made admin outside SCIM, through a group two levels below the one
/// holding a client role that includes `realm-admin`, cannot be changed.
#[tokio::test]
async fn an_admin_through_an_inherited_client_composite_is_read_only() {
    let app = spawn_app("puser").await;
    let admin = Admin::of(&app).await;
    let uid = user(&app, "boss").await;
    let chain = group_chain(&app, &["staff", "it", "ops"]).await;
    let (client, role) = admin.client_role_including_realm_admin().await;
    admin
        .grant_client_role("groups", &chain[0], &client, &role)
        .await;
    app.kc
        .add_group_member(&app.realm, &uid, &chain[2])
        .await
        .expect("member");
    assert!(!admin.effective_admin_roles(&uid).await.is_empty());

    let rename = patch_ops(&json!([{"op": "Replace", "path": "displayName", "value": "x"}]));
    assert_scim_error(
        &app.patch(&format!("/Users/{uid}"), &rename).await,
        403,
        None,
    );
    let mut put = scim_user("boss");
    put["emails"] = json!([{"primary": true, "type": "work", "value": "attacker@evil.test"}]);
    assert_scim_error(&app.put(&format!("/Users/{uid}"), &put).await, 403, None);
    assert_scim_error(&app.delete(&format!("/Users/{uid}")).await, 403, None);
    let kept = app.get(&format!("/Users/{uid}")).await;
    assert_eq!(kept.status, 200, "{}", kept.body);
    assert_eq!(kept.body["emails"][0]["value"], "prot_boss@contoso.com");
}

/// Removing the members of an admin group, or changing its externalId, is a
/// write to it like adding one.
#[tokio::test]
async fn members_of_an_admin_group_stay_and_its_attributes_too() {
    let app = spawn_app("prem").await;
    let admin = Admin::of(&app).await;
    let gid = group(&app, "Admins").await;
    let insider = user(&app, "kept").await;
    let reply = app
        .patch(&format!("/Groups/{gid}"), &add_member(&insider))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    common::grant_realm_admin(&app, "groups", &gid).await;

    let attacks = [
        json!([{"op": "Remove", "path": format!("members[value eq \"{insider}\"]")}]),
        json!([{"op": "Remove", "path": "members"}]),
        json!([{"op": "Replace", "path": "members", "value": []}]),
        json!([{"op": "Replace", "path": "externalId", "value": "ext-other"}]),
        json!([{"op": "Replace", "value": {"externalId": "ext-other"}}]),
    ];
    for ops in attacks {
        let reply = app.patch(&format!("/Groups/{gid}"), &patch_ops(&ops)).await;
        assert_scim_error(&reply, 403, None);
        assert_eq!(
            admin.members(&gid).await,
            vec![insider.clone()],
            "after {ops}"
        );
    }
    let put = scim_group("Admins");
    assert_scim_error(&app.put(&format!("/Groups/{gid}"), &put).await, 403, None);
    assert_eq!(admin.members(&gid).await, vec![insider.clone()]);
    let kept = admin.get(&format!("groups/{gid}")).await;
    assert_eq!(kept["attributes"]["externalId"], json!(["ext-Admins"]));
}

/// What the check relies on, as Keycloak answers it: a user's effective
/// roles of a client include composites and what the ancestors of the
/// user's groups grant; a group's leave out its ancestors' (so the check
/// walks them itself).
#[tokio::test]
async fn keycloak_effective_roles_of_users_include_ancestors_and_of_groups_do_not() {
    use kc_scim::keycloak::RoleHolder;
    let app = spawn_app("ppin").await;
    let admin = Admin::of(&app).await;
    let uid = user(&app, "pin").await;
    let chain = group_chain(&app, &["top", "mid", "leaf"]).await;
    let (client, role) = admin.client_role_including_realm_admin().await;
    admin
        .grant_client_role("groups", &chain[0], &client, &role)
        .await;
    app.kc
        .add_group_member(&app.realm, &uid, &chain[2])
        .await
        .expect("member");
    let rm = admin.client_id("realm-management").await;
    let names = |roles: Vec<kc_scim::keycloak::KcRole>| -> Vec<String> {
        roles.into_iter().map(|r| r.name).collect()
    };
    let of_user = names(
        app.kc
            .effective_client_roles(&app.realm, RoleHolder::User(&uid), &rm)
            .await
            .expect("user roles"),
    );
    assert!(of_user.iter().any(|r| r == "realm-admin"), "{of_user:?}");
    assert!(of_user.iter().any(|r| r == "view-users"), "{of_user:?}");
    let of_top = names(
        app.kc
            .effective_client_roles(&app.realm, RoleHolder::Group(&chain[0]), &rm)
            .await
            .expect("group roles"),
    );
    assert!(of_top.iter().any(|r| r == "realm-admin"), "{of_top:?}");
    for below in &chain[1..] {
        let roles = app
            .kc
            .effective_client_roles(&app.realm, RoleHolder::Group(below), &rm)
            .await
            .expect("group roles");
        assert!(roles.is_empty(), "{:?}", names(roles));
    }
}

/// An ordinary group and user stay writable, at one extra call each.
#[tokio::test]
async fn groups_and_users_without_admin_roles_stay_writable() {
    let app = spawn_app("pok").await;
    let admin = Admin::of(&app).await;
    let chain = group_chain(&app, &["org", "scim"]).await;
    set_group_parent(&app, "/org/scim").await;
    let gid = group(&app, "Plain").await;
    let uid = user(&app, "plain").await;
    let (client, role) = admin.client_role_including_realm_admin().await;
    // A sibling branch holds the admin role: it protects nothing here.
    let side = group_chain(&app, &["elsewhere"]).await;
    admin
        .grant_client_role("groups", &side[0], &client, &role)
        .await;
    assert_eq!(chain.len(), 2);
    let reply = app
        .patch(&format!("/Groups/{gid}"), &add_member(&uid))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let reply = app
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(&json!([{"op": "Remove", "path": "members"}])),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let disable = patch_ops(&json!([{"op": "Replace", "path": "active", "value": false}]));
    let reply = app.patch(&format!("/Users/{uid}"), &disable).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(app.delete(&format!("/Users/{uid}")).await.status, 204);
    // Subgroups are checked before a delete takes them along; plain ones
    // do not stop it.
    app.kc
        .create_group(
            &app.realm,
            Some(&gid),
            &kc_scim::keycloak::KcGroup {
                name: "sub".to_owned(),
                ..Default::default()
            },
        )
        .await
        .expect("subgroup");
    assert_eq!(app.delete(&format!("/Groups/{gid}")).await.status, 204);
}

/// A delete takes the subgroups along: one that grants admin roles (made
/// below a SCIM group by an administrator) stops it.
#[tokio::test]
async fn a_group_whose_subgroup_grants_admin_roles_is_not_deleted() {
    let app = spawn_app("psub").await;
    let admin = Admin::of(&app).await;
    let gid = group(&app, "Dept").await;
    let mut parent = gid.clone();
    let mut deepest = String::new();
    for name in ["team", "squad"] {
        deepest = app
            .kc
            .create_group(
                &app.realm,
                Some(&parent),
                &kc_scim::keycloak::KcGroup {
                    name: name.to_owned(),
                    ..Default::default()
                },
            )
            .await
            .expect("subgroup");
        parent.clone_from(&deepest);
    }
    common::grant_realm_admin(&app, "groups", &deepest).await;

    assert_scim_error(&app.delete(&format!("/Groups/{gid}")).await, 403, None);
    admin.get(&format!("groups/{deepest}")).await;
    let kept = app.get(&format!("/Groups/{gid}")).await;
    assert_eq!(kept.status, 200, "{}", kept.body);
}
