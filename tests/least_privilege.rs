//! The least-privilege account of docs/security.md, proven against a real
//! Keycloak: a confidential client in the master realm whose service account
//! holds only the run-time roles of one realm (client roles of
//! `<realm>-realm`) runs a kc-scim that serves every SCIM user operation of
//! that realm, including the protected-account checks, and can neither change
//! the realm's SCIM setup nor read another realm.

mod common;

use common::{admin, assert_scim_error, fresh_realm, kc_url, unique, TestApp};
use kc_scim::config::Settings;
use kc_scim::keycloak::{KcAdmin, KcClient, KcError};
use serde_json::{json, Value};

/// The realm-management roles the sidecar needs at run time (docs/security.md):
/// users read and written, the scim-endpoint client and its mappers read,
/// realm roles read to find who holds admin roles.
const RUN_TIME_ROLES: [&str; 3] = ["manage-users", "view-clients", "view-realm"];

/// Plain Admin REST calls as the bootstrap admin, for what `KcAdmin` has no
/// typed method for (role mappings).
///
/// Each call takes a fresh admin token: the master realm's tokens live 60 s,
/// less than this test can take on a loaded machine.
struct RawAdmin {
    http: reqwest::Client,
}

impl RawAdmin {
    async fn login() -> Self {
        let admin = Self {
            http: reqwest::Client::new(),
        };
        admin.token().await;
        admin
    }

    async fn token(&self) -> String {
        let user = std::env::var("KC_TEST_ADMIN_USER").unwrap_or_else(|_| "admin".to_owned());
        let password =
            std::env::var("KC_TEST_ADMIN_PASSWORD").unwrap_or_else(|_| "admin".to_owned());
        let reply: Value = self
            .http
            .post(format!(
                "{}/realms/master/protocol/openid-connect/token",
                kc_url()
            ))
            .form(&[
                ("grant_type", "password"),
                ("client_id", "admin-cli"),
                ("username", user.as_str()),
                ("password", password.as_str()),
            ])
            .send()
            .await
            .expect("token request")
            .json()
            .await
            .expect("token JSON");
        reply["access_token"]
            .as_str()
            .expect("admin access token")
            .to_owned()
    }

    async fn get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}/admin/realms/{path}", kc_url()))
            .bearer_auth(self.token().await)
            .send()
            .await
            .expect("GET sent");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.expect("JSON")
    }

    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        let response = self
            .http
            .post(format!("{}/admin/realms/{path}", kc_url()))
            .bearer_auth(self.token().await)
            .json(body)
            .send()
            .await
            .expect("POST sent");
        assert!(
            response.status().is_success(),
            "POST {path}: {}",
            response.status()
        );
        response
    }

    async fn delete(&self, path: &str) {
        let _ = self
            .http
            .delete(format!("{}/admin/realms/{path}", kc_url()))
            .bearer_auth(self.token().await)
            .send()
            .await;
    }

    /// Grants the client roles `roles` of client `client_id` (in `realm`) to
    /// the user `user` (in `realm`).
    async fn grant(&self, realm: &str, user: &str, client_id: &str, roles: &[&str]) {
        let clients = self
            .get(&format!("{realm}/clients?clientId={client_id}"))
            .await;
        let client = clients[0]["id"].as_str().expect("client id").to_owned();
        let mut reps = Vec::new();
        for role in roles {
            reps.push(
                self.get(&format!("{realm}/clients/{client}/roles/{role}"))
                    .await,
            );
        }
        self.post(
            &format!("{realm}/users/{user}/role-mappings/clients/{client}"),
            &Value::Array(reps),
        )
        .await;
    }
}

/// A confidential client in master with a service account holding the
/// run-time roles of `realm`; returns (client uuid, client id, secret).
async fn least_privilege_client(
    kc: &KcAdmin,
    raw: &RawAdmin,
    realm: &str,
) -> (String, String, String) {
    let client_id = unique("kc-scim-lp");
    let uuid = kc
        .create_client(
            "master",
            &KcClient {
                client_id: client_id.clone(),
                protocol: Some("openid-connect".to_owned()),
                public_client: Some(false),
                service_accounts_enabled: Some(true),
                standard_flow_enabled: Some(false),
                direct_access_grants_enabled: Some(false),
                ..KcClient::default()
            },
        )
        .await
        .expect("client created in master");
    let secret = kc.client_secret("master", &uuid).await.expect("secret");
    let account = raw
        .get(&format!("master/clients/{uuid}/service-account-user"))
        .await;
    let account = account["id"].as_str().expect("service account").to_owned();
    raw.grant(
        "master",
        &account,
        &format!("{realm}-realm"),
        &RUN_TIME_ROLES,
    )
    .await;
    (uuid, client_id, secret)
}

fn limited_env(client_id: &str, secret: &str) -> Vec<(String, String)> {
    vec![
        ("KCSCIM_KEYCLOAK__URL".to_owned(), kc_url()),
        (
            "KCSCIM_KEYCLOAK__CLIENT_ID".to_owned(),
            client_id.to_owned(),
        ),
        (
            "KCSCIM_KEYCLOAK__CLIENT_SECRET".to_owned(),
            secret.to_owned(),
        ),
    ]
}

#[tokio::test]
async fn run_time_roles_suffice_for_every_user_operation() {
    let kc = admin();
    let raw = RawAdmin::login().await;
    let realm = fresh_realm(&kc, "lp").await;
    let (_, token) = kc_scim::bootstrap::tokens::create_token(&kc, &realm, None)
        .await
        .expect("token");
    // A realm admin (holds realm-management roles): SCIM must see it read-only.
    let admin_user = kc
        .create_user(
            &realm,
            &serde_json::from_value(json!({"username": "realm-admin", "enabled": true}))
                .expect("user"),
        )
        .await
        .expect("admin user");
    raw.grant(&realm, &admin_user, "realm-management", &["manage-users"])
        .await;
    let (client_uuid, client_id, secret) = least_privilege_client(&kc, &raw, &realm).await;

    // The server: only the limited account, start-up ensure of the realm included.
    let mut env = limited_env(&client_id, &secret);
    env.push(("KCSCIM_HTTP__BIND".to_owned(), "127.0.0.1:0".to_owned()));
    env.push(("KCSCIM_REALMS".to_owned(), realm.clone()));
    let settings = Settings::load_from(None, env.clone()).expect("settings");
    assert!(settings.keycloak.username.is_none() && settings.keycloak.password.is_none());
    let (address, directory) = common::start_server(&settings).await;
    let app = TestApp {
        address,
        realm: realm.clone(),
        token,
        directory,
        kc: kc.clone(),
        http: reqwest::Client::new(),
    };

    let probe = app
        .get(&format!(
            "/Users?filter=userName%20eq%20%22{}%22",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_eq!(probe.status, 200, "{}", probe.body);
    assert_eq!(probe.body["totalResults"], 0);

    let user_name = format!("Least_{}@Contoso.com", uuid::Uuid::new_v4().simple());
    let created = app
        .post(
            "/Users",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name,
                "externalId": "lp-ext-1",
                "active": true,
                "name": {"givenName": "Lee", "familyName": "Stprivilege"},
                "emails": [{"primary": true, "type": "work", "value": "lee@example.com"}]
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();

    let got = app.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["userName"], user_name.as_str());
    for filter in [
        format!("userName%20eq%20%22{user_name}%22"),
        "externalId%20eq%20%22lp-ext-1%22".to_owned(),
        "emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22lee@example.com%22".to_owned(),
    ] {
        let found = app.get(&format!("/Users?filter={filter}")).await;
        assert_eq!(found.status, 200, "{filter}: {}", found.body);
        assert_eq!(found.body["totalResults"], 1, "{filter}: {}", found.body);
        assert_eq!(found.body["Resources"][0]["id"], id.as_str());
    }

    let patched = app
        .patch(
            &format!("/Users/{id}"),
            &json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    {"op": "Replace", "path": "name.givenName", "value": "Leigh"},
                    {"op": "Replace", "path": "active", "value": "False"}
                ]
            }),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["name"]["givenName"], "Leigh");
    assert_eq!(patched.body["active"], false);

    // Protected accounts are found with these roles too (realm roles are read).
    let protected = app
        .patch(
            &format!("/Users/{admin_user}"),
            &json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "active", "value": false}]
            }),
        )
        .await;
    assert_scim_error(&protected, 403, None);

    let deleted = app.delete(&format!("/Users/{id}")).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_scim_error(&app.get(&format!("/Users/{id}")).await, 404, None);

    // And nothing more: no change to the SCIM setup, no other realm.
    let token_create = common::kc_scim(&["token", "create", "--realm", &realm], &env);
    assert!(
        !token_create.status.success(),
        "the run-time account could write the realm's SCIM settings"
    );
    assert!(
        String::from_utf8_lossy(&token_create.stderr).contains("403"),
        "{}",
        String::from_utf8_lossy(&token_create.stderr)
    );
    let limited = kc_scim::startup::admin_client(&settings).expect("client");
    let other = limited
        .get_realm_value("master", &["users"], &[("max", "1".to_owned())])
        .await;
    assert!(
        matches!(other, Err(KcError::Forbidden(_))),
        "the run-time account reads another realm: {other:?}"
    );

    raw.delete(&format!("master/clients/{client_uuid}")).await;
}
