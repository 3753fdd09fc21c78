//! Passkey sign-in against the real Keycloak, without a browser: the facts
//! the code relies on (the passkey flow of the template and the credential
//! name its condition tests, the required action,
//! execute-actions-email and its redirect rules, per-user logout), the
//! `--passwordless-flow` bootstrap step, the onboarding email of a SCIM
//! create and re-enable (and that a failed send never fails the request),
//! `kc-scim user onboard`, and deprovisioning that ends real sessions in
//! every form Entra sends. The browser proof is `tests/passwordless_browser.rs`.

mod common;

use std::time::Duration;

use common::passkey::{
    entra_user, localhost_url, patch_active, sessions, set_onboarding, spawn_passkey_app,
};
use common::smtp::SmtpSink;
use common::TestApp;
use kc_scim::bootstrap::{
    self, BootstrapOptions, FlowShape, Outcome, FLOW_ALIAS, PASSKEYS_SWITCH, PASSKEY_AUTHENTICATOR,
    REGISTER_PASSKEY_ACTION,
};
use kc_scim::keycloak::KcError;
use serde_json::{json, Value};

const MAIL_WAIT: Duration = Duration::from_secs(60);
const PASSWORD: &str = "Correct-Horse-9";

async fn realm_json(app: &TestApp) -> Value {
    app.kc
        .get_realm_value(&app.realm, &[], &[])
        .await
        .expect("realm")
}

/// A session of `user` (password set through the Admin API, password grant
/// on `admin-cli`): its refresh token.
async fn session_of(app: &TestApp, id: &str, user: &str) -> String {
    app.kc
        .set_password(&app.realm, id, PASSWORD, false)
        .await
        .expect("password set");
    let token = app
        .kc
        .password_token(
            &app.realm,
            &[
                ("client_id", "admin-cli"),
                ("username", user),
                ("password", PASSWORD),
            ],
        )
        .await
        .expect("a session for the user");
    token["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned()
}

/// Whether Keycloak still honours `refresh` (the session is alive).
async fn refresh_works(app: &TestApp, refresh: &str) -> bool {
    let url = format!(
        "{}/realms/{}/protocol/openid-connect/token",
        common::kc_url(),
        app.realm
    );
    let status = reqwest::Client::new()
        .post(url)
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "admin-cli"),
            ("refresh_token", refresh),
        ])
        .send()
        .await
        .expect("token endpoint")
        .status();
    status.is_success()
}

/// Keycloak's execute-actions email for `id`, returning to `redirect` of the
/// account console, valid ten minutes.
async fn actions_email(
    app: &TestApp,
    id: &str,
    actions: &[&str],
    redirect: &str,
) -> Result<(), KcError> {
    app.kc
        .execute_actions_email(&app.realm, id, actions, 600, "account-console", redirect)
        .await
}

async fn create(app: &TestApp, name: &str, email: &str) -> String {
    let reply = app.post("/Users", &entra_user(name, email)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_owned()
}

/// `kc-scim doctor` of `realm`: its output (stdout and stderr).
fn doctor(realm: &str) -> String {
    let out = common::kc_scim(
        &[
            "doctor",
            "--realm",
            realm,
            "--scim-url",
            "http://127.0.0.1:9",
        ],
        &common::kc_env(),
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn onboarding_count(realm: &str, outcome: &str) -> u64 {
    kc_scim::telemetry::metrics::metrics()
        .expect("metrics")
        .onboarding_emails
        .with_label_values(&[realm, outcome])
        .get()
}

#[tokio::test]
async fn keycloak_facts_the_template_flow_actions_email_and_per_user_logout() {
    let sink = SmtpSink::start().await;
    let app = spawn_passkey_app("pkfact", None).await;
    // The template binds the passkey flow, brute force on.
    let realm = realm_json(&app).await;
    assert_eq!(realm["browserFlow"], FLOW_ALIAS);
    assert_eq!(realm["bruteForceProtected"], true);
    assert_eq!(realm["webAuthnPolicyPasswordlessPasskeysEnabled"], true);
    let executions = app
        .kc
        .flow_executions(&app.realm, FLOW_ALIAS)
        .await
        .expect("executions");
    assert_eq!(
        bootstrap::flow_shape(&app.kc, &app.realm)
            .await
            .expect("shape"),
        FlowShape::Current,
        "{executions:?}"
    );
    // Keycloak's own browser flow of a new realm skips its second factor
    // with "Condition - credential" on `webauthn-passwordless`: the name
    // under which the username form records a passkey sign-in.
    let default_flow = app
        .kc
        .flow_executions(&app.realm, "browser")
        .await
        .expect("default browser flow");
    let condition = default_flow
        .iter()
        .find(|e| e["providerId"] == "conditional-credential")
        .unwrap_or_else(|| panic!("no conditional-credential in {default_flow:?}"));
    let config = app
        .kc
        .authenticator_config(
            &app.realm,
            condition["authenticationConfig"]
                .as_str()
                .expect("config id"),
        )
        .await
        .expect("config")
        .expect("config exists");
    assert_eq!(
        config["config"]["credentials"], "webauthn-passwordless",
        "{config}"
    );
    assert!(
        executions.iter().all(|e| !e["providerId"]
            .as_str()
            .unwrap_or_default()
            .contains("password-form")),
        "no password form: {executions:?}"
    );
    let action = app
        .kc
        .required_action(&app.realm, REGISTER_PASSKEY_ACTION)
        .await
        .expect("lookup")
        .expect("the action exists");
    assert_eq!(action["enabled"], true);

    let id = create(
        &app,
        "fact.user@contoso.example",
        "fact.user@contoso.example",
    )
    .await;
    let account = format!("{}/realms/{}/account/", localhost_url(), app.realm);
    // No SMTP: Keycloak answers 500 and says why.
    match actions_email(&app, &id, &[REGISTER_PASSKEY_ACTION], &account).await {
        Err(KcError::Status {
            status: 500,
            message,
        }) => {
            assert!(message.contains("Failed to send"), "{message}");
        }
        other => panic!("expected Keycloak's 500 without SMTP, got {other:?}"),
    }
    // A redirect outside the realm's frontend URL is refused (400).
    let elsewhere = actions_email(
        &app,
        &id,
        &[REGISTER_PASSKEY_ACTION],
        "http://elsewhere.example/",
    )
    .await;
    assert!(
        matches!(elsewhere, Err(KcError::BadRequest { .. })),
        "{elsewhere:?}"
    );
    // An unknown action is refused (400).
    let unknown = actions_email(&app, &id, &["no-such-action"], &account).await;
    assert!(
        matches!(unknown, Err(KcError::BadRequest { .. })),
        "{unknown:?}"
    );
    // With SMTP: 204, one email whose link uses the frontend URL.
    app.kc
        .update_realm_fields(&app.realm, &json!({"smtpServer": sink.realm_config()}))
        .await
        .expect("smtp");
    actions_email(&app, &id, &[REGISTER_PASSKEY_ACTION], &account)
        .await
        .expect("email sent");
    let mail = sink.next(MAIL_WAIT).await.expect("mail");
    assert_eq!(mail.to, vec!["fact.user@contoso.example".to_owned()]);
    let prefix = format!(
        "{}/realms/{}/login-actions/action-token",
        localhost_url(),
        app.realm
    );
    assert!(mail.link(&prefix).is_some(), "{}", mail.decoded());
    // A new user has no credential at all.
    assert!(app
        .kc
        .credential_types(&app.realm, &id)
        .await
        .expect("credentials")
        .is_empty());

    // Per-user logout ends a real session: its refresh token stops working.
    let refresh = session_of(&app, &id, "fact.user@contoso.example").await;
    assert!(
        refresh_works(&app, &refresh).await,
        "a fresh session refreshes"
    );
    assert!(!sessions(&app, &id).await.is_empty());
    app.kc.logout_user(&app.realm, &id).await.expect("logout");
    assert!(sessions(&app, &id).await.is_empty());
    assert!(
        !refresh_works(&app, &refresh).await,
        "the refresh fails after the logout"
    );
}

/// A new plain realm (named from `prefix`) bootstrapped without
/// `--passwordless-flow`, and the options that did it.
async fn plainly_bootstrapped(
    prefix: &str,
) -> (kc_scim::keycloak::KcAdmin, String, BootstrapOptions) {
    let kc = common::admin();
    let realm = common::unique(prefix);
    kc.create_realm(&json!({"realm": realm, "enabled": true}))
        .await
        .expect("plain realm");
    kc.forget_token().await;
    let opts = BootstrapOptions {
        realm: realm.clone(),
        ..BootstrapOptions::default()
    };
    bootstrap::run(&kc, &opts)
        .await
        .expect("bootstrap without the flag");
    (kc, realm, opts)
}

#[tokio::test]
async fn bootstrap_installs_binds_and_keeps_the_passkey_flow_only_when_asked() {
    let (kc, realm, mut opts) = plainly_bootstrapped("pkboot").await;
    let read = |kc: kc_scim::keycloak::KcAdmin, realm: String| async move {
        kc.get_realm(&realm)
            .await
            .expect("realm")
            .expect("exists")
            .extra
    };
    let untouched = read(kc.clone(), realm.clone()).await;
    assert_eq!(
        untouched["browserFlow"], "browser",
        "no flag, no flow change"
    );
    let flows = kc.flows(&realm).await.expect("flows");
    assert!(
        flows.iter().all(|f| f["alias"] != FLOW_ALIAS),
        "no flag, no flow created"
    );
    // Neither bound nor onboarding by email: reported, not failed.
    let before = doctor(&realm);
    assert!(
        before.contains("ok   passkey browser flow bound")
            && before.contains("not required (the realm neither binds")
            && before.contains("kc-scim bootstrap --realm"),
        "{before}"
    );

    // A passwordless policy of the realm's own, which binding keeps.
    kc.update_realm_fields(
        &realm,
        &json!({
            "webAuthnPolicyPasswordlessRpEntityName": "Acme sign-in",
            "webAuthnPolicyPasswordlessUserVerificationRequirement": "required",
        }),
    )
    .await
    .expect("policy");

    opts.dry_run = true;
    opts.passwordless_flow = true;
    let dry = bootstrap::run(&kc, &opts).await.expect("dry run");
    assert_eq!(
        dry.outcome(&format!("browser flow {FLOW_ALIAS}")),
        Some(Outcome::Created)
    );
    assert!(
        kc.flows(&realm)
            .await
            .expect("flows")
            .iter()
            .all(|f| f["alias"] != FLOW_ALIAS),
        "dry run writes nothing"
    );

    opts.dry_run = false;
    let first = bootstrap::run(&kc, &opts)
        .await
        .expect("bootstrap with the flag");
    print!("{first}");
    assert_eq!(
        first.outcome(&format!("browser flow {FLOW_ALIAS}")),
        Some(Outcome::Created)
    );
    assert_eq!(
        first.outcome("browser flow binding"),
        Some(Outcome::Updated)
    );
    let bound = read(kc.clone(), realm.clone()).await;
    assert_eq!(bound["browserFlow"], FLOW_ALIAS);
    assert_eq!(bound["bruteForceProtected"], true);
    let executions = kc
        .flow_executions(&realm, FLOW_ALIAS)
        .await
        .expect("executions");
    assert_eq!(
        bootstrap::flow_shape(&kc, &realm).await.expect("shape"),
        FlowShape::Current,
        "{executions:?}"
    );
    assert_eq!(
        bound.get(PASSKEYS_SWITCH),
        Some(&json!(true)),
        "passkeys switched on"
    );
    assert_eq!(
        bound["webAuthnPolicyPasswordlessRpEntityName"], "Acme sign-in",
        "the realm's policy kept"
    );
    assert_eq!(
        bound["webAuthnPolicyPasswordlessUserVerificationRequirement"],
        "required"
    );
    let again = bootstrap::run(&kc, &opts).await.expect("second run");
    assert!(again.changed_nothing(), "second run:\n{again}");
    let after = doctor(&realm);
    assert!(after.contains("ok   passkey browser flow bound"), "{after}");
    assert!(
        after.contains("ok   passkey registration action enabled"),
        "{after}"
    );
    assert!(
        after.contains("no SMTP server"),
        "doctor says SMTP is missing: {after}"
    );

    // A condition an admin changed (true once a passkey was used: the
    // typed user would get no passkey step) is not the passkey flow.
    let condition = executions
        .iter()
        .find(|e| e["providerId"] == "conditional-credential")
        .expect("condition");
    let config_id = condition["authenticationConfig"]
        .as_str()
        .expect("configured");
    let mut config = kc
        .authenticator_config(&realm, config_id)
        .await
        .expect("config")
        .expect("exists");
    let original = config.clone();
    config["config"]["included"] = json!("true");
    kc.update_authenticator_config(&realm, &config)
        .await
        .expect("edit");
    assert_eq!(
        bootstrap::flow_shape(&kc, &realm).await.expect("shape"),
        FlowShape::Customized
    );
    let changed_condition = doctor(&realm);
    assert!(
        changed_condition.contains("FAIL passkey browser flow bound"),
        "{changed_condition}"
    );
    kc.update_authenticator_config(&realm, &original)
        .await
        .expect("restore");

    // A flow an admin changed is kept, reported, and not bound.
    let forms = executions
        .iter()
        .find(|e| e["providerId"] == PASSKEY_AUTHENTICATOR)
        .expect("passkey step");
    let mut changed = forms.clone();
    changed["requirement"] = json!("ALTERNATIVE");
    kc.update_flow_execution(&realm, FLOW_ALIAS, &changed)
        .await
        .expect("edit");
    kc.update_realm_fields(&realm, &json!({"browserFlow": "browser"}))
        .await
        .expect("unbind");
    let customized = bootstrap::run(&kc, &opts).await.expect("third run");
    assert_eq!(
        customized.outcome(&format!("browser flow {FLOW_ALIAS}")),
        Some(Outcome::Customized)
    );
    assert_eq!(customized.outcome("browser flow binding"), None);
    assert_eq!(
        read(kc.clone(), realm.clone()).await["browserFlow"],
        "browser"
    );
}

#[tokio::test]
async fn bootstrap_updates_the_earlier_passkey_flow_to_username_then_passkey() {
    let (kc, realm, mut opts) = plainly_bootstrapped("pkprev").await;
    // The shape an earlier bootstrap installed and bound: the cookie, or
    // the passkey alone.
    kc.create_flow(&realm, FLOW_ALIAS, "earlier")
        .await
        .expect("flow");
    kc.add_flow_execution(&realm, FLOW_ALIAS, "auth-cookie")
        .await
        .expect("cookie");
    kc.add_subflow(&realm, FLOW_ALIAS, "passkey-forms", "earlier")
        .await
        .expect("forms");
    kc.add_flow_execution(&realm, "passkey-forms", PASSKEY_AUTHENTICATOR)
        .await
        .expect("passkey");
    let earlier = kc
        .flow_executions(&realm, FLOW_ALIAS)
        .await
        .expect("executions");
    for (mut e, (parent, requirement)) in earlier.into_iter().zip([
        (FLOW_ALIAS, "ALTERNATIVE"),
        (FLOW_ALIAS, "ALTERNATIVE"),
        ("passkey-forms", "REQUIRED"),
    ]) {
        e["requirement"] = json!(requirement);
        kc.update_flow_execution(&realm, parent, &e)
            .await
            .expect("requirement");
    }
    kc.update_realm_fields(
        &realm,
        &json!({"browserFlow": FLOW_ALIAS, "bruteForceProtected": true}),
    )
    .await
    .expect("bound");
    assert_eq!(
        bootstrap::flow_shape(&kc, &realm).await.expect("shape"),
        FlowShape::Previous
    );
    let before = doctor(&realm);
    assert!(
        before.contains("FAIL passkey browser flow bound") && before.contains("earlier shape"),
        "{before}"
    );

    opts.passwordless_flow = true;
    let report = bootstrap::run(&kc, &opts).await.expect("bootstrap");
    print!("{report}");
    assert_eq!(
        report.outcome(&format!("browser flow {FLOW_ALIAS}")),
        Some(Outcome::Updated)
    );
    assert_eq!(
        bootstrap::flow_shape(&kc, &realm).await.expect("shape"),
        FlowShape::Current
    );
    let passkey_steps = kc
        .flow_executions(&realm, FLOW_ALIAS)
        .await
        .expect("executions")
        .iter()
        .filter(|e| e["providerId"] == PASSKEY_AUTHENTICATOR)
        .count();
    assert_eq!(passkey_steps, 1, "the earlier direct passkey step is gone");
    let again = bootstrap::run(&kc, &opts).await.expect("second run");
    assert!(again.changed_nothing(), "second run:\n{again}");
    let after = doctor(&realm);
    assert!(after.contains("ok   passkey browser flow bound"), "{after}");
}

#[tokio::test]
async fn onboarding_emails_new_and_re_enabled_users_and_never_fails_the_request() {
    let sink = SmtpSink::start().await;
    let app = spawn_passkey_app("pkonb", Some(&sink)).await;
    // Warm the realm caches, so the call count below is the create's own.
    set_onboarding(&app, "none").await;
    let warm = create(&app, "warm@contoso.example", "warm@contoso.example").await;
    assert!(sink.try_next().await.is_none(), "onboarding none: no email");
    set_onboarding(&app, "email").await;
    app.get(&format!("/Users/{warm}")).await;

    let before = app.kc_calls();
    let id = create(&app, "new.hire@contoso.example", "new.hire@contoso.example").await;
    let create_calls = app.kc_calls() - before;
    let mail = sink.next(MAIL_WAIT).await.expect("the onboarding email");
    assert_eq!(mail.to, vec!["new.hire@contoso.example".to_owned()]);
    assert!(mail
        .link(&format!(
            "{}/realms/{}/login-actions/action-token",
            localhost_url(),
            app.realm
        ))
        .is_some());
    assert_eq!(
        create_calls, 3,
        "a create with onboarding: create, read, email"
    );

    // An inactive user and one without an email get nothing.
    let mut inactive = entra_user("later@contoso.example", "later@contoso.example");
    inactive["active"] = json!(false);
    let reply = app.post("/Users", &inactive).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let inactive_id = reply.body["id"].as_str().expect("id").to_owned();
    let mut no_email = entra_user("no.mail@contoso.example", "x@contoso.example");
    no_email.as_object_mut().expect("object").remove("emails");
    assert_eq!(app.post("/Users", &no_email).await.status, 201);
    assert!(
        sink.try_next().await.is_none(),
        "no email for an inactive user or one without an email"
    );

    // Enabling a user without a passkey sends the email.
    let enabled = app
        .patch(&format!("/Users/{inactive_id}"), &patch_active("True"))
        .await;
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    let mail = sink
        .next(MAIL_WAIT)
        .await
        .expect("the email of a re-enable");
    assert_eq!(mail.to, vec!["later@contoso.example".to_owned()]);

    // Without SMTP the create still succeeds; the failure is counted.
    app.kc
        .update_realm_fields(&app.realm, &json!({"smtpServer": {}}))
        .await
        .expect("smtp removed");
    let failed_before = onboarding_count(&app.realm, "failed");
    let reply = app
        .post(
            "/Users",
            &entra_user("no.smtp@contoso.example", "no.smtp@contoso.example"),
        )
        .await;
    assert_eq!(
        reply.status, 201,
        "a failed email never fails the create: {}",
        reply.body
    );
    assert_eq!(onboarding_count(&app.realm, "failed"), failed_before + 1);
    let report = doctor(&app.realm);
    assert!(
        report.contains("FAIL smtp for onboarding emails"),
        "{report}"
    );
    let _ = id;
}

#[tokio::test]
async fn user_onboard_sends_the_link_again() {
    let sink = SmtpSink::start().await;
    let app = spawn_passkey_app("pkcli", Some(&sink)).await;
    set_onboarding(&app, "none").await;
    create(
        &app,
        "resend.me@contoso.example",
        "resend.me@contoso.example",
    )
    .await;
    assert!(sink.try_next().await.is_none());
    let mut env = common::kc_env();
    env.push(("KCSCIM_KEYCLOAK__PUBLIC_URL".to_owned(), localhost_url()));
    // The sink answers Keycloak from this runtime: run the binary off it.
    let (realm, cli_env) = (app.realm.clone(), env.clone());
    let out = tokio::task::spawn_blocking(move || {
        common::kc_scim(
            &[
                "user",
                "onboard",
                "--realm",
                &realm,
                "--user",
                "Resend.Me@contoso.example",
            ],
            &cli_env,
        )
    })
    .await
    .expect("the command ran");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mail = sink.next(MAIL_WAIT).await.expect("the resent email");
    // realm set / realm show carry the setting.
    let set = common::kc_scim(
        &[
            "realm",
            "set",
            "--realm",
            &app.realm,
            "--onboarding",
            "email",
        ],
        &env,
    );
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let show = common::kc_scim(&["realm", "show", "--realm", &app.realm], &env);
    let shown = String::from_utf8_lossy(&show.stdout);
    assert!(shown.contains("onboarding      email"), "{shown}");
    assert_eq!(mail.to, vec!["resend.me@contoso.example".to_owned()]);
    let missing = common::kc_scim(
        &["user", "onboard", "--realm", &app.realm, "--user", "nobody"],
        &env,
    );
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no user"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

#[tokio::test]
async fn every_form_of_disable_and_delete_ends_the_users_sessions() {
    let app = common::spawn_app("pkend").await;
    let disables: [(&str, Value); 4] = [
        ("PATCH active \"False\"", patch_active("False")),
        (
            "PATCH active false",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "path": "active", "value": false}]}),
        ),
        (
            "PATCH without path",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "Replace", "value": {"active": false}}]}),
        ),
        ("PUT", Value::Null),
    ];
    for (n, (form, body)) in disables.into_iter().enumerate() {
        let name = format!("leaver{n}@contoso.example");
        let id = create(&app, &name, &name).await;
        let refresh = session_of(&app, &id, &name).await;
        let reply = if body.is_null() {
            let mut put = entra_user(&name, &name);
            put["active"] = json!(false);
            app.put(&format!("/Users/{id}"), &put).await
        } else {
            app.patch(&format!("/Users/{id}"), &body).await
        };
        assert_eq!(reply.status, 200, "{form}: {}", reply.body);
        assert_eq!(reply.body["active"], false, "{form}");
        assert!(
            sessions(&app, &id).await.is_empty(),
            "{form}: sessions ended"
        );
        // Enabled again, the old session stays gone.
        let back = app
            .patch(&format!("/Users/{id}"), &patch_active("True"))
            .await;
        assert_eq!(back.status, 200, "{form}: {}", back.body);
        assert!(
            !refresh_works(&app, &refresh).await,
            "{form}: the old refresh token still works"
        );
    }
    let id = create(&app, "gone@contoso.example", "gone@contoso.example").await;
    let refresh = session_of(&app, &id, "gone@contoso.example").await;
    assert_eq!(app.delete(&format!("/Users/{id}")).await.status, 204);
    assert!(
        !refresh_works(&app, &refresh).await,
        "delete: the refresh token still works"
    );
    let logouts = kc_scim::telemetry::metrics::metrics()
        .expect("metrics")
        .session_logouts
        .with_label_values(&[&app.realm, "ok"])
        .get();
    assert_eq!(logouts, 5, "four disables and a delete, each one logout");
}

#[tokio::test]
async fn a_token_for_the_provisioned_user_carries_the_seven_claims_as_entra_sent() {
    let app = common::spawn_app("pkclaims").await;
    let mut body = entra_user(
        "Grace.Hopper@Contoso.example",
        "grace.hopper@contoso.example",
    );
    body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"] =
        json!({"value": "manager-0042"});
    body["urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"] =
        json!({"tag": "blue"});
    let reply = app.post("/Users", &body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.body["id"].as_str().expect("id");
    // What a relying party of the realm receives for this user (Keycloak's
    // own rendering of an access token, mappers applied).
    let token = app.example_token(id).await;
    assert_eq!(token["userName"], "Grace.Hopper@Contoso.example", "{token}");
    assert_eq!(token["name"]["givenName"], "Ada", "{token}");
    assert_eq!(token["name"]["familyName"], "Lovelace", "{token}");
    assert_eq!(token["email"], "grace.hopper@contoso.example", "{token}");
    assert_eq!(token["manager"], "manager-0042", "{token}");
    assert_eq!(
        token["urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:tag"], "blue",
        "{token}"
    );
    assert_eq!(token["active"], true, "{token}");
}

/// A re-enable that also points the email elsewhere must not mail a passkey
/// link for an account that can already sign in: only a user without any
/// credential is onboarded on re-enable.
#[tokio::test]
async fn a_re_enable_never_mails_a_link_for_a_user_who_has_a_credential() {
    let sink = SmtpSink::start().await;
    let app = spawn_passkey_app("pkreen", Some(&sink)).await;
    set_onboarding(&app, "email").await;
    let id = create(&app, "leaver@contoso.example", "leaver@contoso.example").await;
    sink.next(MAIL_WAIT).await.expect("the create's email");
    // The account can sign in (a password here), then leaves.
    app.kc
        .set_password(&app.realm, &id, PASSWORD, false)
        .await
        .expect("password set");
    let disabled = app
        .patch(&format!("/Users/{id}"), &patch_active("False"))
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    let hijack = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "replace", "path": "active", "value": true},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "x@evil.example"}
        ]
    });
    let enabled = app.patch(&format!("/Users/{id}"), &hijack).await;
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    // A user created inactive, without any credential, still gets its link.
    let mut later = entra_user("later@contoso.example", "later@contoso.example");
    later["active"] = json!(false);
    let reply = app.post("/Users", &later).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let later_id = reply.body["id"].as_str().expect("id").to_owned();
    let on = app
        .patch(&format!("/Users/{later_id}"), &patch_active("True"))
        .await;
    assert_eq!(on.status, 200, "{}", on.body);
    let mail = sink
        .next(MAIL_WAIT)
        .await
        .expect("the credential-less user's email");
    assert_eq!(
        mail.to,
        vec!["later@contoso.example".to_owned()],
        "the first email after the hijack attempt went elsewhere"
    );
    assert!(sink.try_next().await.is_none(), "a second email was sent");
}
