//! The admin page (`/realms/<realm>/scim/admin/`) against the real
//! Keycloak: sign-in through the realm's login form (code + PKCE), the
//! role check on every request, CSRF on every POST, and each action.

mod common;

use common::admin_realm::{admin_realm, csrf_of, AdminRealm};
use kc_scim::mapping::Profile;
use reqwest::StatusCode;

/// The process's log, as JSON lines: the server's worker threads log into
/// the global subscriber, set once for this test binary.
fn logs() -> &'static common::Lines {
    static LINES: std::sync::OnceLock<common::Lines> = std::sync::OnceLock::new();
    LINES.get_or_init(|| {
        let lines = common::Lines::default();
        let _ = tracing::subscriber::set_global_default(kc_scim::telemetry::json_subscriber(
            tracing_subscriber::EnvFilter::new("info"),
            lines.clone(),
        ));
        lines
    })
}

async fn realm(prefix: &str) -> AdminRealm {
    logs();
    admin_realm(prefix, "127.0.0.1", &common::kc_url()).await
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A signed-in admin: the client with the session and the page's CSRF token.
async fn signed_in(r: &AdminRealm, username: &str) -> (reqwest::Client, String) {
    let (http, status, body) = r.sign_in(username).await;
    assert_eq!(status, 200, "{body}");
    (http, csrf_of(&body))
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String, Option<String>) {
    let reply = http.post(url).form(form).send().await.expect("posted");
    let status = reply.status();
    let location = reply
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, reply.text().await.unwrap_or_default(), location)
}

/// A client that keeps `from`'s cookies but does not follow redirects:
/// the same jar is not shareable, so the session is signed in again.
async fn signed_in_no_redirects(r: &AdminRealm, username: &str) -> (reqwest::Client, String) {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let follow = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .expect("client");
    let login = follow.get(&r.page).send().await.expect("page");
    let html = login.text().await.expect("login html");
    let action = common::admin_realm::form_action(&html).expect("login form");
    let page = follow
        .post(action)
        .form(&[
            ("username", username),
            ("password", common::admin_realm::PASSWORD),
            ("credentialId", ""),
        ])
        .send()
        .await
        .expect("login posted");
    assert_eq!(page.status(), 200);
    let csrf = csrf_of(&page.text().await.expect("page"));
    let manual = reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    (manual, csrf)
}

#[tokio::test]
async fn without_a_session_the_page_redirects_to_the_realm_authorization_endpoint_with_pkce_s256() {
    let r = realm("adm-redirect").await;
    let reply = no_redirects().get(&r.page).send().await.expect("sent");
    assert_eq!(reply.status(), 302);
    let location = reply
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a Location")
        .to_owned();
    let auth = format!(
        "{}/realms/{}/protocol/openid-connect/auth?",
        common::kc_url(),
        r.realm
    );
    assert!(location.starts_with(&auth), "{location}");
    let url = url::Url::parse(&location).expect("url");
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(
        q.get("code_challenge_method").map(String::as_str),
        Some("S256")
    );
    assert_eq!(q.get("code_challenge").map(String::len), Some(43));
    assert_eq!(
        q.get("client_id").map(String::as_str),
        Some("scim-admin-console")
    );
    assert_eq!(q.get("response_type").map(String::as_str), Some("code"));
    assert_eq!(
        q.get("redirect_uri").map(String::as_str),
        Some(format!("{}callback", r.page).as_str())
    );
    assert!(q.get("scope").is_some_and(|s| s.contains("openid")));
    let cookie = reply
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("the pending sign-in cookie");
    assert!(cookie.starts_with("kcscim_admin_login="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(
        cookie.contains(&format!("Path=/realms/{}/scim/admin/", r.realm)),
        "{cookie}"
    );
    // Keycloak agrees: the authorization request shows its login page.
    let login = reqwest::get(&location).await.expect("login page");
    assert_eq!(login.status(), 200);
    assert!(login.text().await.expect("html").contains("kc-form-login"));
}

#[tokio::test]
async fn a_realm_the_sidecar_does_not_manage_is_404_on_every_page_path() {
    let r = realm("adm-404").await;
    let http = no_redirects();
    for realm in [common::unique("nope").as_str(), "master"] {
        for path in ["", "callback?code=x&state=y", "static/copy.js", "checklist"] {
            let url = format!("{}/realms/{realm}/scim/admin/{path}", r.address);
            let reply = http.get(&url).send().await.expect("sent");
            assert_eq!(reply.status(), 404, "{url}");
        }
        let reply = http
            .post(format!("{}/realms/{realm}/scim/admin/tokens", r.address))
            .form(&[("csrf", "x")])
            .send()
            .await
            .expect("sent");
        assert_eq!(reply.status(), 404);
    }
}

#[tokio::test]
async fn an_admin_signs_in_and_the_page_is_served_with_csp_and_no_store() {
    let r = realm("adm-signin").await;
    let (http, status, body) = r.sign_in("alice").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Signed in as"), "{body}");
    assert!(body.contains(">alice<"), "{body}");
    assert!(body.contains(&format!("{}/realms/{}/scim/v2", r.address, r.realm)));
    let reply = http.get(&r.page).send().await.expect("page");
    let csp = reply
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(
        reply
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let html = reply.text().await.expect("html");
    // No inline script: every script element loads a file.
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script src=").count()
    );
    // Sign-out is a form to Keycloak's end-session endpoint with the hint.
    let end_session = format!(
        "{}/realms/{}/protocol/openid-connect/logout",
        common::kc_url(),
        r.realm
    );
    assert!(
        html.contains(&format!("action=\"{end_session}\"")),
        "{html}"
    );
    assert!(html.contains("name=\"id_token_hint\""), "{html}");
    // The manage-realm role is enough too.
    let (_, status, body) = r.sign_in("carol").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_user_without_the_role_gets_403() {
    let r = realm("adm-403").await;
    let (http, status, body) = r.sign_in("bob").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Not allowed"), "{body}");
    assert!(
        !body.contains("name=\"csrf\""),
        "no form for a refused user"
    );
    // Granting the role lets the same session in: checked on every request.
    let bob = r.kc_user("bob").await;
    r.grant(bob.id.as_deref().expect("id"), "realm", "scim-admin")
        .await;
    let reply = http.get(&r.page).send().await.expect("page");
    assert_eq!(reply.status(), 200);
}

#[tokio::test]
async fn a_post_without_or_with_a_wrong_csrf_token_is_403_and_changes_nothing() {
    let r = realm("adm-csrf").await;
    let (http, csrf) = signed_in(&r, "alice").await;
    let before = kc_scim::bootstrap::tokens::list_tokens(&r.kc, &r.realm)
        .await
        .expect("tokens")
        .len();
    let tokens = format!("{}tokens", r.page);
    let (status, _, _) = post(&http, &tokens, &[("expires_in_days", "1")]).await;
    assert_eq!(status, 403, "missing CSRF token");
    let (status, _, _) = post(
        &http,
        &tokens,
        &[("csrf", "wrong-token"), ("expires_in_days", "1")],
    )
    .await;
    assert_eq!(status, 403, "wrong CSRF token");
    let settings = format!("{}settings", r.page);
    let (status, _, _) = post(&http, &settings, &[("profile", "generic")]).await;
    assert_eq!(status, 403, "missing CSRF token on settings");
    // No session at all: 403 too.
    let (status, _, _) = post(&no_redirects(), &tokens, &[("csrf", &csrf)]).await;
    assert_eq!(status, 403);
    let after = kc_scim::bootstrap::tokens::list_tokens(&r.kc, &r.realm)
        .await
        .expect("tokens")
        .len();
    assert_eq!(before, after);
    // The right token works.
    let (status, body, _) =
        post(&http, &tokens, &[("csrf", &csrf), ("expires_in_days", "1")]).await;
    assert_eq!(status, 200, "{body}");
}

/// The HTML of a page.
async fn get_html(http: &reqwest::Client, url: &str) -> String {
    let reply = http.get(url).send().await.expect("page");
    reply.text().await.expect("html")
}

/// Posts the SCIM endpoint form.
async fn post_settings(
    http: &reqwest::Client,
    r: &AdminRealm,
    csrf: &str,
    enabled: bool,
    tenant: &str,
) -> (StatusCode, String, Option<String>) {
    let mut form = vec![("csrf", csrf), ("profile", "azure"), ("tenant_id", tenant)];
    if enabled {
        form.push(("enabled", "on"));
    }
    post(http, &format!("{}settings", r.page), &form).await
}

#[tokio::test]
async fn the_settings_form_switches_to_azure_with_a_validated_tenant_id() {
    let r = realm("adm-settings").await;
    let (http, csrf) = signed_in_no_redirects(&r, "alice").await;
    let (status, body, _) = post_settings(&http, &r, &csrf, true, "contoso").await;
    assert_eq!(status, 400);
    assert!(body.contains("is not a GUID"), "{body}");
    let (status, body, _) = post_settings(&http, &r, &csrf, true, "").await;
    assert_eq!(status, 400);
    assert!(body.contains("needs a tenant id"), "{body}");
    let tenant = uuid::Uuid::new_v4().to_string().to_uppercase();
    let (status, _, location) = post_settings(&http, &r, &csrf, true, &tenant).await;
    assert_eq!(status, 303);
    assert_eq!(
        location.as_deref(),
        Some(format!("/realms/{}/scim/admin/?done=settings", r.realm).as_str())
    );
    let (_, stored) = kc_scim::settings_store::load(&r.kc, &r.realm)
        .await
        .expect("settings");
    assert_eq!(stored.profile, Profile::Azure);
    assert_eq!(stored.tenant_id, Some(tenant.to_lowercase()));
    assert!(stored.enabled);
    // Turning SCIM off keeps the page (the admin can turn it on again).
    let (status, _, _) = post_settings(&http, &r, &csrf, false, &tenant).await;
    assert_eq!(status, 303);
    let (_, stored) = kc_scim::settings_store::load(&r.kc, &r.realm)
        .await
        .expect("settings");
    assert!(!stored.enabled);
    let page = http.get(&r.page).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let scim = reqwest::get(format!("{}/realms/{}/scim/v2/Users", r.address, r.realm))
        .await
        .expect("scim");
    assert_eq!(scim.status(), 401, "a disabled realm is not served");
}

#[tokio::test]
async fn a_token_created_on_the_page_is_shown_once_works_and_is_refused_after_revoke() {
    let r = realm("adm-token").await;
    let (http, csrf) = signed_in_no_redirects(&r, "alice").await;
    let (status, body, _) = post(
        &http,
        &format!("{}tokens", r.page),
        &[("csrf", &csrf), ("expires_in_days", "30")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let marker = "id=\"new-token\">";
    let at = body.find(marker).expect("the new token") + marker.len();
    let secret = body[at..body[at..].find('<').map(|e| at + e).expect("end")].to_owned();
    assert!(secret.starts_with("kcscim_"), "{secret}");
    let id_marker = "id=\"new-token-id\">";
    let at = body.find(id_marker).expect("the token id") + id_marker.len();
    let id = body[at..body[at..].find('<').map(|e| at + e).expect("end")].to_owned();
    let users = format!("{}/realms/{}/scim/v2/Users", r.address, r.realm);
    let scim = reqwest::Client::new();
    let ok = scim
        .get(&users)
        .bearer_auth(&secret)
        .send()
        .await
        .expect("scim");
    assert_eq!(ok.status(), 200);
    // A refused write shows among the replica's last errors.
    let bad = scim
        .post(&users)
        .bearer_auth(&secret)
        .header("Content-Type", "application/scim+json")
        .body(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}"#)
        .send()
        .await
        .expect("scim");
    assert_eq!(bad.status(), 400);
    // The page lists it, never showing the secret again.
    let page = get_html(&http, &r.page).await;
    assert!(page.contains(&format!("data-token-id=\"{id}\"")), "{page}");
    assert!(page.contains("id=\"activity\""), "{page}");
    let failures = &page[page.find("id=\"failures\"").expect("the last errors")..];
    assert!(
        failures.contains("<td>POST</td><td>Users</td><td>400</td>"),
        "{failures}"
    );
    assert!(!page.contains(&secret));
    let (status, _, location) = post(
        &http,
        &format!("{}tokens/revoke", r.page),
        &[("csrf", &csrf), ("id", &id)],
    )
    .await;
    assert_eq!(status, 303);
    assert!(location.is_some_and(|l| l.ends_with("?done=token-revoked")));
    // Both changes are audit events naming the admin; the secret is in no log line.
    let audits: Vec<serde_json::Value> = logs()
        .json()
        .into_iter()
        .filter(|l| l["target"] == "audit" && l["realm"] == r.realm.as_str())
        .collect();
    for operation in ["token create", "token revoke"] {
        assert!(
            audits.iter().any(|l| l["operation"] == operation
                && l["admin"] == "alice"
                && l["outcome"].as_str().is_some_and(|o| o.contains(&id))),
            "{operation}: {audits:?}"
        );
    }
    assert!(audits
        .iter()
        .any(|l| l["message"] == "admin page sign-in" && l["admin"] == "alice"));
    assert!(
        !logs().text().contains(&secret),
        "a log line holds the secret"
    );
    assert!(
        common::eventually(std::time::Duration::from_secs(10), || async {
            scim.get(&users)
                .bearer_auth(&secret)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .ok()
                == Some(401)
        })
        .await,
        "the revoked token is refused"
    );
}

#[tokio::test]
async fn the_breaker_reset_asks_for_confirmation_first() {
    let r = realm("adm-breaker").await;
    kc_scim::settings_store::update(&r.kc, &r.realm, |s| {
        s.breaker_tripped_at = Some("2026-06-01T00:00:00Z".to_owned());
        Ok::<_, kc_scim::settings_store::SettingsError>(())
    })
    .await
    .expect("tripped");
    let (http, csrf) = signed_in_no_redirects(&r, "alice").await;
    let page = get_html(&http, &r.page).await;
    assert!(page.contains("Open since 2026-06-01T00:00:00Z"), "{page}");
    let url = format!("{}breaker/reset", r.page);
    let (status, body, _) = post(&http, &url, &[("csrf", &csrf)]).await;
    assert_eq!(status, 200);
    assert!(body.contains("confirm-reset"), "{body}");
    let open = kc_scim::bootstrap::breaker::breaker_status(&r.kc, &r.realm)
        .await
        .expect("status");
    assert!(open.is_some(), "not reset before the confirmation");
    let (status, _, location) = post(&http, &url, &[("csrf", &csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 303);
    assert!(location.is_some_and(|l| l.ends_with("?done=breaker-reset")));
    let open = kc_scim::bootstrap::breaker::breaker_status(&r.kc, &r.realm)
        .await
        .expect("status");
    assert_eq!(open, None);
}

#[tokio::test]
async fn the_checklist_is_green_names_a_deleted_mapper_and_the_reset_restores_it() {
    let r = realm("adm-check").await;
    // Bootstrapped as `bootstrap --issue-token` leaves it: a usable credential.
    kc_scim::bootstrap::tokens::create_token(&r.kc, &r.realm, None)
        .await
        .expect("token");
    let (http, csrf) = signed_in_no_redirects(&r, "alice").await;
    let url = format!("{}checklist", r.page);
    // A GET runs nothing (the checklist issues and revokes a token).
    let tokens_before = kc_scim::bootstrap::tokens::list_tokens(&r.kc, &r.realm)
        .await
        .expect("tokens")
        .len();
    let got = http.get(&url).send().await.expect("get");
    assert_eq!(got.status(), StatusCode::SEE_OTHER);
    let tokens_after = kc_scim::bootstrap::tokens::list_tokens(&r.kc, &r.realm)
        .await
        .expect("tokens")
        .len();
    assert_eq!(tokens_after, tokens_before, "a GET issued a token");
    let (status, _, _) = post(&http, &url, &[("csrf", "wrong")]).await;
    assert_eq!(status, 403, "a run without the CSRF token");
    let (status, page, _) = post(&http, &url, &[("csrf", &csrf)]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("All 14 checks passed."), "{page}");
    assert!(!page.contains("class=\"fail\""), "{page}");
    r.delete_mapper("tag").await;
    let (_, page, _) = post(&http, &url, &[("csrf", &csrf)]).await;
    assert!(page.contains("missing: tag"), "{page}");
    assert!(page.contains("id=\"reset-mappers\""), "{page}");
    let (status, page, _) = post(
        &http,
        &format!("{}mappers/reset", r.page),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Mappers reset to the product guide"),
        "{page}"
    );
    assert!(page.contains("All 14 checks passed."), "{page}");
}

#[tokio::test]
async fn ending_the_keycloak_session_or_disabling_the_user_ends_the_page_session() {
    let r = realm("adm-kc-session").await;
    let (http, _) = signed_in_no_redirects(&r, "alice").await;
    assert_eq!(http.get(&r.page).send().await.expect("page").status(), 200);
    let alice = r.kc_user("alice").await;
    let id = alice.id.clone().expect("id");
    // An admin signs alice out of every Keycloak session.
    let status = reqwest::Client::new()
        .post(format!(
            "{}/admin/realms/{}/users/{id}/logout",
            common::kc_url(),
            r.realm
        ))
        .bearer_auth(common::master_admin_token(&r.kc).await)
        .send()
        .await
        .expect("logout")
        .status();
    assert!(status.is_success(), "{status}");
    let reply = http.get(&r.page).send().await.expect("page");
    assert_eq!(reply.status(), 302, "the cookie alone is not enough");
    assert!(reply
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|l| l.contains("/protocol/openid-connect/auth?")));
    // A disabled user with a live Keycloak session is refused too.
    let (http, csrf) = signed_in_no_redirects(&r, "alice").await;
    let mut disabled = alice.clone();
    disabled.enabled = Some(false);
    r.kc.update_user(&r.realm, &id, &disabled)
        .await
        .expect("disabled");
    let (status, _, _) = post(&http, &format!("{}tokens", r.page), &[("csrf", &csrf)]).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn another_replica_with_the_same_key_serves_the_session_and_one_with_another_key_does_not() {
    let r = realm("adm-replicas").await;
    let (http, _) = signed_in_no_redirects(&r, "alice").await;
    let replica = |key: Option<&str>| {
        let mut settings = r.settings.clone();
        settings.http.bind = "127.0.0.1:0".to_owned();
        settings.admin.cookie_key = key.map(|k| secrecy::SecretString::from(k.to_owned()));
        settings
    };
    // The cookie is for 127.0.0.1 (any port): the browser sends it to both.
    let (same_key, _) = common::start_server(&replica(Some(common::admin_realm::COOKIE_KEY))).await;
    let page = format!("{same_key}/realms/{}/scim/admin/", r.realm);
    let reply = http.get(&page).send().await.expect("page");
    assert_eq!(reply.status(), 200, "a replica with the same key");
    let (other_key, _) = common::start_server(&replica(None)).await;
    let page = format!("{other_key}/realms/{}/scim/admin/", r.realm);
    let reply = http.get(&page).send().await.expect("page");
    assert_eq!(
        reply.status(),
        302,
        "a replica with its own key signs in again"
    );
}

/// `scim-admin` includes `realm-management/query-groups`, so SCIM's
/// admin-role check keeps its holders and the groups granting it out of a
/// SCIM client's reach: otherwise a sync could add a user of its own to
/// such a group and sign in to the page that resets its breaker.
#[tokio::test]
async fn holders_of_scim_admin_and_groups_granting_it_are_read_only_to_scim() {
    let r = realm("adm-prot").await;
    let included =
        r.kc.realm_role_composites(&r.realm, kc_scim::mapping::SCIM_ADMIN_ROLE)
            .await
            .expect("composites");
    assert!(
        included.iter().any(|role| role.name == "query-groups"),
        "{included:?}"
    );
    let (_, token) = kc_scim::bootstrap::tokens::create_token(&r.kc, &r.realm, None)
        .await
        .expect("token");
    let scim = reqwest::Client::new();
    let base = format!("{}/realms/{}/scim/v2", r.address, r.realm);
    let patch = |path: String, ops: serde_json::Value| {
        let scim = scim.clone();
        let token = token.clone();
        async move {
            scim.patch(path)
                .bearer_auth(token)
                .json(&serde_json::json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": ops
                }))
                .send()
                .await
                .expect("patch")
                .status()
        }
    };
    let alice = r.kc_user("alice").await.id.expect("alice id");
    let status = patch(
        format!("{base}/Users/{alice}"),
        serde_json::json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "x@evil.example"}]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "SCIM changed a scim-admin");
    assert_eq!(
        r.kc_user("alice").await.email.as_deref(),
        Some("alice@example.com")
    );

    let group =
        r.kc.create_group(
            &r.realm,
            None,
            &kc_scim::keycloak::KcGroup {
                name: "integration-admins".to_owned(),
                ..Default::default()
            },
        )
        .await
        .expect("group");
    common::grant_role(&r.kc, &r.realm, "groups", &group, None, "scim-admin").await;
    let bob = r.kc_user("bob").await.id.expect("bob id");
    let status = patch(
        format!("{base}/Groups/{group}"),
        serde_json::json!([{"op": "add", "path": "members", "value": [{"value": bob}]}]),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "SCIM joined a user to a scim-admin group"
    );
    let members =
        r.kc.group_members(&r.realm, &group, 0, 10)
            .await
            .expect("members");
    assert!(members.is_empty(), "{members:?}");
}
