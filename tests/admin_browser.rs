//! The admin page in a real browser (headless Chromium over `WebDriver`)
//! against the real Keycloak, the way a realm admin uses it: sign in on
//! Keycloak's login page, switch to Azure with a tenant id, create a token
//! that Entra-shaped SCIM requests then use, run the checklist (green, then
//! naming a deleted mapper, green again after the reset), revoke the token,
//! sign out; and a user without the role is refused. Screenshots of each
//! step land in `target/screenshots/admin_page_in_a_browser/` (the ones in
//! docs/admin-page.md are from this test).

mod common;

use common::admin_realm::{admin_realm, PASSWORD};
use common::browser::Browser;
use serde_json::json;

async fn text(browser: &Browser, css: &str) -> String {
    browser.wait_for(css).await.text().await.expect("text")
}

async fn sign_in(browser: &Browser, username: &str) {
    browser
        .wait_for("#username")
        .await
        .send_keys(username)
        .await
        .expect("username");
    browser
        .wait_for("#password")
        .await
        .send_keys(PASSWORD)
        .await
        .expect("password");
    browser
        .wait_for("#kc-login")
        .await
        .click()
        .await
        .expect("sign in");
}

/// An Entra provisioning request: create a user (the shape Entra sends).
fn entra_user() -> serde_json::Value {
    let id = uuid::Uuid::new_v4().simple().to_string();
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "externalId": id,
        "userName": format!("Browser_{id}@contoso.com"),
        "active": true,
        "displayName": "Browser Tester",
        "emails": [{"primary": true, "type": "work", "value": format!("browser_{id}@contoso.com")}],
        "name": {"formatted": "Browser Tester", "familyName": "Tester", "givenName": "Browser"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales"}
    })
}

#[tokio::test]
async fn admin_page_in_a_browser() {
    // Passkeys and the browser want a host name, not an IP address.
    let keycloak = common::kc_url().replace("127.0.0.1", "localhost");
    let r = admin_realm("adm-browser", "localhost", &keycloak).await;
    let browser = Browser::start("admin_page_in_a_browser").await;

    // Sign-in through Keycloak's own login page.
    browser.goto(&r.page).await;
    browser.wait_for("#kc-form-login").await;
    let login_url = browser.client().current_url().await.expect("url");
    assert!(
        login_url
            .as_str()
            .starts_with(&format!("{keycloak}/realms/{}/", r.realm)),
        "{login_url}"
    );
    browser.screenshot("keycloak-login").await;
    sign_in(&browser, "alice").await;
    assert_eq!(text(&browser, "#signed-in-user").await, "alice");
    browser.screenshot("signed-in").await;

    // Profile Azure with the tenant id, Update.
    let tenant = uuid::Uuid::new_v4().to_string();
    browser
        .wait_for("#profile")
        .await
        .select_by_value("azure")
        .await
        .expect("profile");
    let tenant_field = browser.wait_for("#tenant-id").await;
    tenant_field.clear().await.expect("clear");
    tenant_field.send_keys(&tenant).await.expect("tenant");
    browser
        .wait_for("#update-settings")
        .await
        .click()
        .await
        .expect("update");
    assert_eq!(text(&browser, "#notice").await, "SCIM settings updated.");
    browser.screenshot("azure-profile").await;
    let (_, stored) = kc_scim::settings_store::load(&r.kc, &r.realm)
        .await
        .expect("settings");
    assert_eq!(stored.profile, kc_scim::mapping::Profile::Azure);
    assert_eq!(stored.tenant_id.as_deref(), Some(tenant.as_str()));

    // A token, shown once; Entra's requests with it are answered.
    let days = browser.wait_for("#expires-in-days").await;
    days.clear().await.expect("clear");
    days.send_keys("30").await.expect("days");
    browser
        .wait_for("#create-token")
        .await
        .click()
        .await
        .expect("create");
    let secret = text(&browser, "#new-token").await;
    let token_id = text(&browser, "#new-token-id").await;
    assert!(secret.starts_with("kcscim_"), "{secret}");
    browser.screenshot("token-created").await;
    let tenant_url = text(&browser, "#tenant-url").await;
    assert_eq!(
        tenant_url,
        format!(
            "{}/realms/{}/scim/v2",
            r.page.split("/realms/").next().unwrap_or(""),
            r.realm
        )
    );
    let scim = reqwest::Client::new();
    let created = scim
        .post(format!("{tenant_url}/Users"))
        .bearer_auth(&secret)
        .header("Content-Type", "application/scim+json")
        .body(entra_user().to_string())
        .send()
        .await
        .expect("SCIM create");
    assert_eq!(created.status(), 201, "{:?}", created.text().await);
    // The page counts it among this replica's requests.
    browser.goto(&format!("{}#activity-title", r.page)).await;
    let activity = text(&browser, "#activity").await;
    assert!(activity.contains("Users POST 201 1"), "{activity}");
    browser.screenshot("activity").await;

    // The checklist: all green on the bootstrapped realm…
    browser
        .wait_for("#run-checklist")
        .await
        .click()
        .await
        .expect("checklist");
    assert_eq!(
        text(&browser, "#checklist-summary").await,
        "All 14 checks passed."
    );
    browser.screenshot("checklist-green").await;
    // …names the mapper an admin deleted, and the reset brings it back.
    r.delete_mapper("tag").await;
    // "Run again" answers with a page of the same shape: mark this one, so
    // the waits below see the new page and not an element of the old one.
    browser
        .execute("document.body.dataset.before = 'run-again'")
        .await;
    browser
        .wait_for("#run-checklist")
        .await
        .click()
        .await
        .expect("run again");
    browser.wait_for("body:not([data-before])").await;
    let row = text(&browser, "tr[data-item='seven mappers present']").await;
    assert!(
        row.contains("FAIL") && row.contains("missing: tag"),
        "{row}"
    );
    browser.screenshot("checklist-missing-mapper").await;
    browser
        .wait_for("#reset-mappers")
        .await
        .click()
        .await
        .expect("reset");
    assert_eq!(
        text(&browser, "#notice").await,
        "Mappers reset to the product guide's table."
    );
    assert_eq!(
        text(&browser, "#checklist-summary").await,
        "All 14 checks passed."
    );

    // Revoke: the next request with the token is refused.
    browser.goto(&r.page).await;
    browser
        .wait_for(&format!("tr[data-token-id='{token_id}'] button.revoke"))
        .await
        .click()
        .await
        .expect("revoke");
    assert_eq!(
        text(&browser, "#notice").await,
        "Token revoked: it is refused from now on."
    );
    browser.screenshot("token-revoked").await;
    let refused = common::eventually(std::time::Duration::from_secs(10), || async {
        scim.get(format!("{tenant_url}/Users"))
            .bearer_auth(&secret)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .ok()
            == Some(401)
    })
    .await;
    assert!(refused, "the revoked token is refused");

    // Sign-out ends the Keycloak session: the page asks to sign in again.
    browser
        .wait_for("#sign-out")
        .await
        .click()
        .await
        .expect("sign out");
    assert_eq!(text(&browser, "#message-title").await, "Signed out");
    browser.goto(&r.page).await;
    browser.wait_for("#kc-form-login").await;

    // A user without the role is refused.
    sign_in(&browser, "bob").await;
    assert_eq!(text(&browser, "#forbidden").await, "Not allowed");
    browser.screenshot("forbidden").await;
    browser.close().await;
}
