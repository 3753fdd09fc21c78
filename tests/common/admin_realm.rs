//! A realm with the admin page's sign-in set up and three users (one with
//! the `scim-admin` role, one with `realm-management/manage-realm`, one
//! with neither), served by a kc-scim whose page is at a known address;
//! and a sign-in through Keycloak's real login form.

use kc_scim::keycloak::{KcAdmin, KcUser};
use serde_json::json;

use super::{admin, free_port, grant_role, serving, start_server, unique};

/// The cookie key of the test servers (base64 of 64 bytes): replicas
/// share it.
pub(crate) const COOKIE_KEY: &str =
    "dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVz";

/// Password of every test user.
pub(crate) const PASSWORD: &str = "Correct-horse-7";

/// The realm, its server and users.
pub(crate) struct AdminRealm {
    pub realm: String,
    /// `http://127.0.0.1:<port>`: the server itself.
    pub address: String,
    /// The page: `<address>/realms/<realm>/scim/admin/`.
    pub page: String,
    pub kc: KcAdmin,
    /// The directory of the server (for its Keycloak call counters).
    pub directory: std::sync::Arc<kc_scim::directory::KcDirectory>,
    /// The settings the server runs with.
    pub settings: kc_scim::config::Settings,
}

/// Sets up a realm (no passkey flow: the password form signs in) and
/// starts a server whose page is reached at `http://<host>:<port>`, with
/// Keycloak's public URL `keycloak_public` (what the browser reaches).
pub(crate) async fn admin_realm(prefix: &str, host: &str, keycloak_public: &str) -> AdminRealm {
    let port = free_port();
    admin_realm_at(
        prefix,
        port,
        &format!("http://{host}:{port}"),
        keycloak_public,
    )
    .await
}

/// As [`admin_realm`], the server on `port` and the page's public base URL
/// `page_public` (a proxy's, or the server's own).
pub(crate) async fn admin_realm_at(
    prefix: &str,
    port: u16,
    page_public: &str,
    keycloak_public: &str,
) -> AdminRealm {
    let kc = admin();
    let realm = unique(prefix);
    kc.create_realm(&json!({"realm": realm, "enabled": true}))
        .await
        .expect("realm created");
    kc.forget_token().await;
    let bind = format!("127.0.0.1:{port}");
    let settings = serving(
        &[&realm],
        &[
            ("KCSCIM_HTTP__BIND", bind.as_str()),
            ("KCSCIM_ADMIN__PUBLIC_URL", page_public),
            ("KCSCIM_KEYCLOAK__PUBLIC_URL", keycloak_public),
            ("KCSCIM_ADMIN__COOKIE_KEY", COOKIE_KEY),
        ],
    );
    let (address, directory) = start_server(&settings).await;
    let r = AdminRealm {
        page: format!("{page_public}/realms/{realm}/scim/admin/"),
        realm,
        address,
        kc,
        directory,
        settings,
    };
    r.user("alice", Some(("realm", "scim-admin"))).await;
    r.user("carol", Some(("realm-management", "manage-realm")))
        .await;
    r.user("bob", None).await;
    r
}

impl AdminRealm {
    /// Creates a user with a complete profile and a password, with a realm
    /// role (`("realm", name)`) or a client role (`(client, name)`).
    pub(crate) async fn user(&self, username: &str, role: Option<(&str, &str)>) -> String {
        let id = self
            .kc
            .create_user(
                &self.realm,
                &KcUser {
                    username: Some(username.to_owned()),
                    email: Some(format!("{username}@example.com")),
                    first_name: Some(username.to_owned()),
                    last_name: Some("Tester".to_owned()),
                    enabled: Some(true),
                    email_verified: Some(true),
                    ..KcUser::default()
                },
            )
            .await
            .expect("user created");
        self.kc
            .set_password(&self.realm, &id, PASSWORD, false)
            .await
            .expect("password set");
        if let Some((scope, name)) = role {
            self.grant(&id, scope, name).await;
        }
        id
    }

    /// Grants a realm role (`scope` = `realm`) or a role of client `scope`.
    pub(crate) async fn grant(&self, user_id: &str, scope: &str, name: &str) {
        let client = (scope != "realm").then_some(scope);
        grant_role(&self.kc, &self.realm, "users", user_id, client, name).await;
    }

    /// The Keycloak user `username`.
    pub(crate) async fn kc_user(&self, username: &str) -> KcUser {
        let query = kc_scim::keycloak::UserQuery {
            username: Some(username.to_owned()),
            max: 1,
            ..Default::default()
        };
        let mut found = self
            .kc
            .find_users(&self.realm, &query)
            .await
            .expect("users");
        assert_eq!(found.len(), 1, "{username}");
        found.remove(0)
    }

    /// Deletes mapper `name` of the `scim-endpoint` client, as an admin
    /// might in the console.
    pub(crate) async fn delete_mapper(&self, name: &str) {
        let client = self
            .kc
            .find_client(&self.realm, "scim-endpoint")
            .await
            .expect("client")
            .and_then(|c| c.id)
            .expect("id");
        let mapper = self
            .kc
            .protocol_mappers(&self.realm, &client)
            .await
            .expect("mappers")
            .into_iter()
            .find(|m| m.name == name)
            .and_then(|m| m.id)
            .expect("the mapper exists");
        self.kc
            .delete_protocol_mapper(&self.realm, &client, &mapper)
            .await
            .expect("deleted");
    }

    /// A client that keeps cookies and follows redirects, as a browser.
    pub(crate) fn browser_like() -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("client")
    }

    /// Signs `username` in through Keycloak's login form; returns the
    /// client (holding the session cookie) and the page it landed on.
    pub(crate) async fn sign_in(&self, username: &str) -> (reqwest::Client, u16, String) {
        let http = Self::browser_like();
        let login = http.get(&self.page).send().await.expect("page");
        assert_eq!(login.status(), 200, "Keycloak's login page");
        let html = login.text().await.expect("login html");
        let action = form_action(&html).unwrap_or_else(|| panic!("no login form in {html}"));
        let landed = http
            .post(action)
            .form(&[
                ("username", username),
                ("password", PASSWORD),
                ("credentialId", ""),
            ])
            .send()
            .await
            .expect("login posted");
        let status = landed.status().as_u16();
        let body = landed.text().await.expect("page body");
        (http, status, body)
    }
}

/// The `action` of Keycloak's login form, unescaped.
pub(crate) fn form_action(html: &str) -> Option<String> {
    let start = html.find("id=\"kc-form-login\"")?;
    let tail = &html[start..];
    let at = tail.find("action=\"")? + "action=\"".len();
    let end = tail[at..].find('"')?;
    Some(tail[at..at + end].replace("&amp;", "&"))
}

/// The first hidden `csrf` value of a page.
pub(crate) fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let at = html
        .find(marker)
        .map(|i| i + marker.len())
        .expect("a csrf field");
    let end = html[at..].find('"').expect("closing quote");
    html[at..at + end].to_owned()
}
