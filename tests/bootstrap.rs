//! Bootstrap against a real Keycloak: the seven mappers exactly as the product
//! guide sets them, idempotence, customised and deleted mappers, the user
//! profile, the realm template, and clear errors for bad input.

mod common;

use std::collections::BTreeMap;

use kc_scim::bootstrap::{self, BootstrapOptions, Outcome};
use kc_scim::keycloak::{KcAdmin, KcUser};
use kc_scim::mapping::{MapperTable, SCIM_CLIENT_ID};
use serde_json::{json, Value};

use common::{admin, fresh_realm, kc_env, kc_scim, unique};

const TAG_CLAIM: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:tag";

async fn scim_client_uuid(kc: &KcAdmin, realm: &str) -> String {
    kc.find_client(realm, SCIM_CLIENT_ID)
        .await
        .expect("client lookup")
        .expect("scim-endpoint exists")
        .id
        .expect("client id")
}

fn opts(realm: &str) -> BootstrapOptions {
    BootstrapOptions {
        realm: realm.to_owned(),
        ..BootstrapOptions::default()
    }
}

#[tokio::test]
async fn fresh_realm_gets_exactly_the_seven_mappers_of_the_guide() {
    let kc = admin();
    let realm = fresh_realm(&kc, "seven").await;
    let client = scim_client_uuid(&kc, &realm).await;
    let mappers = kc.protocol_mappers(&realm, &client).await.expect("mappers");
    assert_eq!(mappers.len(), 7, "{mappers:#?}");
    let expected = [
        ("status", "isSoftDeleted", "active", "boolean"),
        ("loginName", "userPrincipalName", "userName", "String"),
        ("firstName", "givenName", "name.givenName", "String"),
        ("manager", "manager", "manager", "String"),
        ("lastName", "surName", "name.familyName", "String"),
        (
            "tag",
            "extensionAttribute1",
            "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2\\.0:User:tag",
            "String",
        ),
        ("email", "email", "email", "String"),
    ];
    for (name, attribute, claim, json_type) in expected {
        let m = mappers
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("mapper {name} missing"));
        assert_eq!(m.protocol, "openid-connect");
        assert_eq!(m.protocol_mapper, "oidc-usermodel-attribute-mapper");
        let mut want = BTreeMap::new();
        want.insert("user.attribute".to_owned(), attribute.to_owned());
        want.insert("claim.name".to_owned(), claim.to_owned());
        want.insert("jsonType.label".to_owned(), json_type.to_owned());
        for option in [
            "id.token.claim",
            "access.token.claim",
            "userinfo.token.claim",
            "introspection.token.claim",
        ] {
            want.insert(option.to_owned(), "true".to_owned());
        }
        assert_eq!(m.config, want, "config of mapper {name}");
    }
}

#[tokio::test]
async fn scim_client_is_confidential_with_a_service_account_and_no_browser_flows() {
    let kc = admin();
    let realm = fresh_realm(&kc, "client").await;
    let c = kc
        .find_client(&realm, SCIM_CLIENT_ID)
        .await
        .expect("lookup")
        .expect("exists");
    assert_eq!(c.public_client, Some(false));
    assert_eq!(c.service_accounts_enabled, Some(true));
    assert_eq!(c.standard_flow_enabled, Some(false));
    assert_eq!(c.implicit_flow_enabled, Some(false));
    assert_eq!(c.direct_access_grants_enabled, Some(false));
    assert_eq!(
        c.attributes.get("kcscim.enabled").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        c.attributes.get("kcscim.profile").map(String::as_str),
        Some("generic")
    );
    // "Remote token": the client can get a token by client credentials.
    let secret = kc
        .client_secret(&realm, c.id.as_deref().expect("id"))
        .await
        .expect("secret");
    let token = kc
        .client_credentials_token(&realm, SCIM_CLIENT_ID, &secret)
        .await
        .expect("client-credentials token");
    assert!(token["access_token"].as_str().is_some_and(|t| t.len() > 20));
}

async fn user_with_mapped_attributes(kc: &KcAdmin, realm: &str) -> String {
    let mut attributes = BTreeMap::new();
    for (k, v) in [
        ("isSoftDeleted", "true"),
        ("userPrincipalName", "Alice.Smith@Contoso.com"),
        ("givenName", "Alice"),
        ("surName", "Smith"),
        ("manager", "m-42"),
        ("extensionAttribute1", "blue"),
    ] {
        attributes.insert(k.to_owned(), vec![v.to_owned()]);
    }
    let user = KcUser {
        username: Some("alice.smith@contoso.com".to_owned()),
        email: Some("alice@contoso.com".to_owned()),
        first_name: Some("Alice".to_owned()),
        last_name: Some("Smith".to_owned()),
        enabled: Some(true),
        email_verified: Some(true),
        attributes: Some(attributes),
        ..KcUser::default()
    };
    kc.create_user(realm, &user).await.expect("user created")
}

#[tokio::test]
async fn tokens_of_the_scim_client_carry_the_mapped_claims() {
    let kc = admin();
    let realm = fresh_realm(&kc, "claims").await;
    let client = scim_client_uuid(&kc, &realm).await;
    let user = user_with_mapped_attributes(&kc, &realm).await;
    for kind in [
        "generate-example-access-token",
        "generate-example-id-token",
        "generate-example-userinfo",
    ] {
        let claims = kc
            .get_realm_value(
                &realm,
                &["clients", &client, "evaluate-scopes", kind],
                &[("userId", user.clone()), ("scope", "openid".to_owned())],
            )
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(claims["active"], json!(true), "{kind}: {claims}");
        assert_eq!(
            claims["userName"],
            json!("Alice.Smith@Contoso.com"),
            "{kind}"
        );
        assert_eq!(
            claims["name"]["givenName"],
            json!("Alice"),
            "{kind}: {claims}"
        );
        assert_eq!(claims["name"]["familyName"], json!("Smith"), "{kind}");
        assert_eq!(claims["manager"], json!("m-42"), "{kind}");
        assert_eq!(claims["email"], json!("alice@contoso.com"), "{kind}");
        // The URN with "2.0" stays one flat claim (escaped dot in claim.name).
        assert_eq!(claims[TAG_CLAIM], json!("blue"), "{kind}: {claims}");
    }
}

#[tokio::test]
async fn second_run_reports_only_unchanged_and_writes_nothing() {
    let setup = admin();
    let realm = fresh_realm(&setup, "twice").await;
    let kc = admin();
    let report = bootstrap::run(&kc, &opts(&realm))
        .await
        .expect("second run");
    assert!(
        report.steps.iter().all(|s| s.outcome == Outcome::Unchanged),
        "{report}"
    );
    // realm, username edits, client, client scopes, seven mappers, user
    // profile, scim settings.
    assert_eq!(report.steps.len(), 13, "{report}");
    assert_eq!(kc.stats().writes(), 0, "second run made write calls");
}

#[tokio::test]
async fn deleted_mapper_is_recreated_and_edited_mapper_is_left_customized() {
    let kc = admin();
    let realm = fresh_realm(&kc, "custom").await;
    let client = scim_client_uuid(&kc, &realm).await;
    let mappers = kc.protocol_mappers(&realm, &client).await.expect("mappers");
    let tag = mappers.iter().find(|m| m.name == "tag").expect("tag");
    kc.delete_protocol_mapper(&realm, &client, tag.id.as_deref().expect("id"))
        .await
        .expect("delete tag");
    let mut login = mappers
        .iter()
        .find(|m| m.name == "loginName")
        .expect("loginName")
        .clone();
    login
        .config
        .insert("claim.name".to_owned(), "upn".to_owned());
    kc.update_protocol_mapper(&realm, &client, &login)
        .await
        .expect("edit loginName");

    let report = bootstrap::run(&kc, &opts(&realm)).await.expect("run");
    assert_eq!(
        report.outcome("mapper tag"),
        Some(Outcome::Created),
        "{report}"
    );
    assert_eq!(
        report.outcome("mapper loginName"),
        Some(Outcome::Customized),
        "{report}"
    );
    let after = kc.protocol_mappers(&realm, &client).await.expect("mappers");
    let login_after = after.iter().find(|m| m.name == "loginName").expect("kept");
    assert_eq!(
        login_after.config["claim.name"], "upn",
        "customised mapper overwritten"
    );
    assert_eq!(after.len(), 7);

    let reset = bootstrap::run(
        &kc,
        &BootstrapOptions {
            reset_mappers: true,
            ..opts(&realm)
        },
    )
    .await
    .expect("reset run");
    assert_eq!(
        reset.outcome("mapper loginName"),
        Some(Outcome::Updated),
        "{reset}"
    );
    let restored = kc.protocol_mappers(&realm, &client).await.expect("mappers");
    let table = MapperTable::defaults();
    for rule in &table.rules {
        let m = restored
            .iter()
            .find(|m| m.name == rule.name)
            .expect("present");
        assert!(rule.matches_kc(m), "{} not restored: {m:?}", rule.name);
    }
}

#[tokio::test]
async fn dry_run_writes_nothing() {
    let kc = admin();
    let realm = unique("dry");
    let report = bootstrap::run(
        &kc,
        &BootstrapOptions {
            template: Some("passwordless".to_owned()),
            dry_run: true,
            ..opts(&realm)
        },
    )
    .await
    .expect("dry run of a missing realm");
    assert_eq!(
        report.outcome(&format!("realm {realm}")),
        Some(Outcome::Created)
    );
    assert_eq!(kc.stats().writes(), 0);
    assert!(kc.get_realm(&realm).await.expect("lookup").is_none());

    let realm = fresh_realm(&kc, "dry2").await;
    let client = scim_client_uuid(&kc, &realm).await;
    let mappers = kc.protocol_mappers(&realm, &client).await.expect("mappers");
    let email = mappers.iter().find(|m| m.name == "email").expect("email");
    kc.delete_protocol_mapper(&realm, &client, email.id.as_deref().expect("id"))
        .await
        .expect("delete");
    let dry = admin();
    let report = bootstrap::run(
        &dry,
        &BootstrapOptions {
            dry_run: true,
            ..opts(&realm)
        },
    )
    .await
    .expect("dry run");
    assert_eq!(
        report.outcome("mapper email"),
        Some(Outcome::Created),
        "{report}"
    );
    assert_eq!(dry.stats().writes(), 0);
    let after = kc.protocol_mappers(&realm, &client).await.expect("mappers");
    assert_eq!(after.len(), 6, "dry run created a mapper");
}

#[tokio::test]
async fn mapped_attributes_persist_and_users_cannot_edit_them() {
    let kc = admin();
    let realm = fresh_realm(&kc, "profile").await;
    let id = user_with_mapped_attributes(&kc, &realm).await;
    kc.set_password(&realm, &id, "Pa55word!x", false)
        .await
        .expect("password");
    let stored = kc
        .get_user(&realm, &id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        stored.attribute("userPrincipalName"),
        Some("Alice.Smith@Contoso.com")
    );
    assert_eq!(stored.attribute("isSoftDeleted"), Some("true"));
    assert_eq!(stored.attribute("extensionAttribute1"), Some("blue"));

    // The user, through the account API, tries to change userPrincipalName.
    let (http, access, account, mine) = alice_account(&kc, &realm).await;
    let access = access.as_str();
    assert!(
        mine.get("attributes")
            .and_then(|a| a.get("userPrincipalName"))
            .is_none(),
        "user can see the admin-only attribute: {mine}"
    );
    let mut changed = mine.clone();
    changed["attributes"] =
        json!({"userPrincipalName": ["mallory@evil.example"], "isSoftDeleted": ["false"]});
    let response = http
        .post(&account)
        .bearer_auth(access)
        .json(&changed)
        .send()
        .await
        .expect("account POST");
    let status = response.status();
    let after = kc
        .get_user(&realm, &id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        after.attribute("userPrincipalName"),
        Some("Alice.Smith@Contoso.com"),
        "account API ({status}) changed an admin-only attribute"
    );
    assert_eq!(after.attribute("isSoftDeleted"), Some("true"));
}

#[tokio::test]
async fn scim_may_rename_users_but_users_cannot_rename_themselves() {
    let kc = admin();
    let realm = fresh_realm(&kc, "rename").await;
    let rep = kc.get_realm_value(&realm, &[], &[]).await.expect("realm");
    assert_eq!(rep["editUsernameAllowed"], true, "{rep}");
    let id = user_with_mapped_attributes(&kc, &realm).await;
    kc.set_password(&realm, &id, "Pa55word!x", false)
        .await
        .expect("password");
    let (http, access, account, mut mine) = alice_account(&kc, &realm).await;
    let access = access.as_str();
    mine["username"] = json!("mallory@evil.example");
    let status = http
        .post(&account)
        .bearer_auth(access)
        .json(&mine)
        .send()
        .await
        .expect("account POST")
        .status();
    let after = kc
        .get_user(&realm, &id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        after.username.as_deref(),
        Some("alice.smith@contoso.com"),
        "the account API ({status}) let a user rename themselves"
    );
}

#[tokio::test]
async fn passwordless_template_imports_with_passkeys_and_the_required_action() {
    let kc = admin();
    let realm = fresh_realm(&kc, "tpl").await;
    let rep = kc.get_realm_value(&realm, &[], &[]).await.expect("realm");
    assert_eq!(rep["enabled"], json!(true));
    assert_eq!(
        rep["webAuthnPolicyPasswordlessPasskeysEnabled"],
        json!(true),
        "{rep}"
    );
    let actions = kc
        .get_realm_value(&realm, &["authentication", "required-actions"], &[])
        .await
        .expect("required actions");
    let passwordless = actions
        .as_array()
        .expect("array")
        .iter()
        .find(|a| a["alias"] == "webauthn-register-passwordless")
        .expect("webauthn-register-passwordless present");
    assert_eq!(passwordless["enabled"], json!(true));
}

#[tokio::test]
async fn azure_profile_and_tenant_id_are_stored_on_the_client() {
    let kc = admin();
    let realm = fresh_realm(&kc, "azure").await;
    let report = bootstrap::run(
        &kc,
        &BootstrapOptions {
            profile: Some(kc_scim::mapping::Profile::Azure),
            tenant_id: Some("0c3f5f8e-1a2b-4c5d-9e8f-123456789abc".to_owned()),
            ..opts(&realm)
        },
    )
    .await
    .expect("run");
    assert_eq!(
        report.outcome("scim settings"),
        Some(Outcome::Updated),
        "{report}"
    );
    let c = kc
        .find_client(&realm, SCIM_CLIENT_ID)
        .await
        .expect("lookup")
        .expect("exists");
    assert_eq!(c.attributes["kcscim.profile"], "azure");
    assert_eq!(
        c.attributes["kcscim.tenantId"],
        "0c3f5f8e-1a2b-4c5d-9e8f-123456789abc"
    );
    let again = bootstrap::run(&kc, &opts(&realm)).await.expect("run");
    assert_eq!(
        again.outcome("scim settings"),
        Some(Outcome::Unchanged),
        "{again}"
    );
}

// ---- the command line: clear one-line errors, never a panic -------------

fn assert_one_line_error(out: &std::process::Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure, got success: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{stderr}");
    assert!(last.contains(needle), "expected {needle:?} in {last:?}");
}

#[test]
fn cli_keycloak_unreachable_is_a_clear_error() {
    let env = vec![
        (
            "KCSCIM_KEYCLOAK__URL".to_owned(),
            "http://127.0.0.1:9".to_owned(),
        ),
        ("KCSCIM_KEYCLOAK__USERNAME".to_owned(), "admin".to_owned()),
        ("KCSCIM_KEYCLOAK__PASSWORD".to_owned(), "admin".to_owned()),
    ];
    let out = kc_scim(&["bootstrap", "--realm", "x"], &env);
    assert_one_line_error(&out, "unreachable");
}

#[test]
fn cli_wrong_admin_credentials_is_a_clear_error() {
    let mut env = kc_env();
    env.retain(|(k, _)| k != "KCSCIM_KEYCLOAK__PASSWORD");
    env.push((
        "KCSCIM_KEYCLOAK__PASSWORD".to_owned(),
        "wrong-password".to_owned(),
    ));
    let out = kc_scim(&["bootstrap", "--realm", "x"], &env);
    assert_one_line_error(&out, "refused the admin credentials");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("wrong-password"));
}

#[test]
fn cli_unknown_realm_without_template_is_a_clear_error() {
    let realm = unique("missing");
    let out = kc_scim(&["bootstrap", "--realm", &realm], &kc_env());
    assert_one_line_error(&out, "does not exist");
}

#[test]
fn cli_invalid_template_names_the_file() {
    let dir = std::env::temp_dir().join(unique("tpl"));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("broken-template.json");
    std::fs::write(&file, "{\"realm\": ").expect("write");
    let realm = unique("broken");
    let out = kc_scim(
        &[
            "bootstrap",
            "--realm",
            &realm,
            "--template",
            file.to_str().expect("utf8"),
        ],
        &kc_env(),
    );
    assert_one_line_error(&out, "broken-template.json");
}

#[test]
fn cli_unknown_configuration_key_is_a_clear_error() {
    let mut env = kc_env();
    env.push(("KCSCIM_KEYCLOAK__ADMIN_REALMS".to_owned(), "x".to_owned()));
    let out = kc_scim(&["check-config"], &env);
    assert_one_line_error(&out, "admin_realms");
}

#[test]
fn cli_bootstrap_prints_the_report_and_the_tenant_url() {
    let realm = unique("cli");
    let out = kc_scim(
        &["bootstrap", "--realm", &realm, "--template", "passwordless"],
        &kc_env(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("mapper loginName"), "{stdout}");
    assert!(
        stdout.contains("client scim-admin-console") && stdout.contains("role scim-admin"),
        "{stdout}"
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        format!("Tenant URL: {}/realms/{realm}/scim/v2", common::kc_url())
    );
    let again = kc_scim(&["bootstrap", "--realm", &realm], &kc_env());
    let again = String::from_utf8_lossy(&again.stdout);
    for line in again.lines().filter(|l| !l.starts_with("Tenant URL")) {
        assert!(line.contains("unchanged"), "{line}");
    }
}

/// Alice (of `user_with_mapped_attributes`, password `Pa55word!x`) signed in
/// to the account API: the client, her access token, the account URL and
/// what the API shows her.
async fn alice_account(kc: &KcAdmin, realm: &str) -> (reqwest::Client, String, String, Value) {
    let token = kc
        .password_token(
            realm,
            &[
                ("client_id", "admin-cli"),
                ("username", "alice.smith@contoso.com"),
                ("password", "Pa55word!x"),
            ],
        )
        .await
        .expect("user token");
    let access = token["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let http = reqwest::Client::new();
    let account = format!("{}/realms/{realm}/account/", common::kc_url());
    let mine: Value = http
        .get(&account)
        .bearer_auth(&access)
        .header("Accept", "application/json")
        .send()
        .await
        .expect("account GET")
        .json()
        .await
        .expect("account JSON");
    (http, access, account, mine)
}

/// What Keycloak answers an authorization request of the console client:
/// the status, and the `Location` (an error goes back to a valid redirect
/// URI) or else the body.
async fn authorize(realm: &str, redirect: &str, pkce: Option<&str>) -> (u16, String) {
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let mut query = vec![
        ("client_id", "scim-admin-console"),
        ("response_type", "code"),
        ("scope", "openid"),
        ("redirect_uri", redirect),
    ];
    if let Some(method) = pkce {
        query.push(("code_challenge", challenge));
        query.push(("code_challenge_method", method));
    }
    let reply = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!(
            "{}/realms/{realm}/protocol/openid-connect/auth",
            common::kc_url()
        ))
        .query(&query)
        .send()
        .await
        .expect("sent");
    let status = reply.status().as_u16();
    if let Some(location) = reply
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
    {
        return (status, location.to_owned());
    }
    (status, reply.text().await.unwrap_or_default())
}

#[tokio::test]
async fn the_admin_page_client_is_public_pkce_only_with_its_exact_redirect_and_idempotent() {
    let kc = admin();
    let realm = fresh_realm(&kc, "boot-console").await;
    let base = "https://id.example.com";
    let first = bootstrap::ensure_admin_page(&kc, &realm, base)
        .await
        .expect("console ensured");
    assert_eq!(
        first.outcome("client scim-admin-console"),
        Some(Outcome::Created)
    );
    assert_eq!(first.outcome("role scim-admin"), Some(Outcome::Created));
    let again = bootstrap::ensure_admin_page(&kc, &realm, base)
        .await
        .expect("console ensured");
    assert!(again.changed_nothing(), "{again}");
    let client = kc
        .find_client(&realm, "scim-admin-console")
        .await
        .expect("lookup")
        .expect("the console client");
    assert_eq!(client.public_client, Some(true));
    assert_eq!(client.direct_access_grants_enabled, Some(false));
    assert_eq!(client.implicit_flow_enabled, Some(false));
    let callback = format!("{base}/realms/{realm}/scim/admin/callback");
    assert_eq!(client.extra["redirectUris"], json!([callback]));
    // Keycloak enforces both: no PKCE, or another redirect URI, is refused.
    let (status, body) = authorize(&realm, &callback, None).await;
    assert_eq!(status, 302, "without PKCE: {body}");
    assert!(
        body.starts_with(&callback)
            && body.contains("error=invalid_request")
            && body.contains("code_challenge_method"),
        "without PKCE: {body}"
    );
    let (status, body) = authorize(&realm, &format!("{callback}x"), Some("S256")).await;
    assert_eq!(status, 400, "another redirect URI: {body}");
    assert!(body.contains("redirect_uri"), "{body}");
    let (status, body) = authorize(&realm, &callback, Some("plain")).await;
    assert_eq!(status, 302, "plain PKCE: {body}");
    assert!(body.contains("error=invalid_request"), "plain PKCE: {body}");
    let (status, body) = authorize(&realm, &callback, Some("S256")).await;
    assert_eq!(status, 200, "the login page: {body}");
    // A client changed by hand is put back.
    let mut changed = client.clone();
    changed.direct_access_grants_enabled = Some(true);
    changed
        .extra
        .insert("redirectUris".to_owned(), json!(["*"]));
    kc.update_client(&realm, changed.id.as_deref().expect("id"), &changed)
        .await
        .expect("changed");
    let restored = bootstrap::ensure_admin_page(&kc, &realm, base)
        .await
        .expect("console ensured");
    assert_eq!(
        restored.outcome("client scim-admin-console"),
        Some(Outcome::Updated)
    );
    let client = kc
        .find_client(&realm, "scim-admin-console")
        .await
        .expect("lookup")
        .expect("the console client");
    assert_eq!(client.direct_access_grants_enabled, Some(false));
    assert_eq!(client.extra["redirectUris"], json!([callback]));
}
