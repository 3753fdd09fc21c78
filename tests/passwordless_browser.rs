//! The provisioned user's whole life in a real browser: Entra-shaped
//! `POST /Users` → the onboarding email → its link → a passkey registered
//! on a virtual authenticator → sign-out → sign-in three ways, each with
//! exactly one passkey assertion and no password field: passkey autofill,
//! the username then that user's passkey, and "Sign in with Passkey" →
//! the account console → `PATCH active "False"` (session gone, sign-in
//! refused) → `PATCH active "True"` (sign-in works) → a second user, without
//! a passkey, types the username and is refused → `DELETE` (refused).
//! Headless Chromium from Debian through chromedriver (tests/common/browser.rs),
//! a local SMTP sink, the test Keycloak reached as `localhost`. A screenshot
//! of each step lands in `target/screenshots/passwordless/`.

mod common;

use std::time::{Duration, Instant};

use common::browser::Browser;
use common::passkey::{entra_user, localhost_url, patch_active, sessions, spawn_passkey_app};
use common::smtp::SmtpSink;

const MAIL_WAIT: Duration = Duration::from_secs(60);

/// The username input of Keycloak's sign-in form (the account console has
/// a `#username` field of its own).
const LOGIN_FORM_USERNAME: &str = "#kc-form-login #username";

/// The account console of the realm, as the browser reaches it.
fn account_url(realm: &str) -> String {
    format!("{}/realms/{realm}/account/", localhost_url())
}

/// Waits until the account console shows the signed-in user's first name.
async fn wait_signed_in(browser: &Browser, realm: &str, first_name: &str) {
    let prefix = account_url(realm);
    let deadline = Instant::now() + common::browser::WAIT;
    let script = format!("return document.body.innerText.includes({first_name:?});");
    loop {
        let at_console = browser.url().await.as_str().starts_with(&prefix);
        if at_console && browser.execute(&script).await == serde_json::Value::Bool(true) {
            return;
        }
        if Instant::now() > deadline {
            browser.screenshot("timeout-signed-in").await;
            panic!(
                "the account console never showed {first_name:?} at {}",
                browser.url().await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens the account console as a fresh visitor and signs in with the
/// discoverable passkey, no username typed ("Sign in with Passkey").
async fn sign_in_with_passkey(browser: &Browser, realm: &str) {
    browser.clear_cookies().await;
    browser.goto(&account_url(realm)).await;
    browser.click("#authenticateWebAuthnButton").await;
}

/// Fails unless the page has no password input at all.
async fn assert_no_password_field(browser: &Browser, page: &str) {
    assert!(
        !browser.has("input[type=password]").await,
        "{page} asks for no password"
    );
}

/// How many assertions the virtual authenticator's passkeys have signed
/// (the sum of their signature counters).
async fn passkey_uses(browser: &Browser, authenticator: &str) -> u64 {
    browser
        .authenticator_credentials(authenticator)
        .await
        .iter()
        .map(|c| c["signCount"].as_u64().expect("signCount"))
        .sum()
}

/// Waits for the account console, then asserts the passkeys signed exactly
/// once since `before` uses (`how`: the way of signing in, for the failure).
async fn signed_in_with_one_passkey_use(
    browser: &Browser,
    realm: &str,
    authenticator: &str,
    before: u64,
    how: &str,
) {
    wait_signed_in(browser, realm, "Ada").await;
    assert_eq!(
        passkey_uses(browser, authenticator).await,
        before + 1,
        "{how}: the passkey signed exactly once"
    );
}

/// Asserts the sign-in was refused: an error saying `says`, and not the
/// account console.
async fn assert_sign_in_refused(browser: &Browser, realm: &str, shot: &str, says: &str) {
    browser
        .wait_for("#kc-error-message, .pf-v5-c-alert, .alert-error, #input-error")
        .await;
    browser.screenshot(shot).await;
    let url = browser.url().await;
    assert!(
        !url.as_str().starts_with(&account_url(realm)),
        "signed in although refused: {url}"
    );
    let text = browser.execute("return document.body.innerText;").await;
    assert!(
        text.as_str().is_some_and(|t| t.contains(says)),
        "the refusal does not say {says:?}: {text}"
    );
}

#[tokio::test]
async fn a_provisioned_user_signs_in_with_a_passkey_until_deprovisioned() {
    let started = Instant::now();
    let sink = SmtpSink::start().await;
    let app = spawn_passkey_app("pkb", Some(&sink)).await;
    let user_name = "Ada.Lovelace@Contoso.example";
    let email = "ada.lovelace@contoso.example";

    // Entra creates the user: Keycloak emails the passkey link.
    let created = app.post("/Users", &entra_user(user_name, email)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let mail = sink
        .next(MAIL_WAIT)
        .await
        .expect("the onboarding email arrives");
    assert_eq!(mail.to, vec![email.to_owned()]);
    let prefix = format!(
        "{}/realms/{}/login-actions/action-token",
        localhost_url(),
        app.realm
    );
    let link = mail
        .link(&prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in:\n{}", mail.decoded()));
    let provisioned = started.elapsed();

    // The employee opens the link and registers a passkey.
    let browser = Browser::start("passwordless").await;
    let authenticator = browser.add_virtual_authenticator().await;
    browser.goto(&link).await;
    browser.screenshot("01-email-link").await;
    if browser
        .has("#kc-info-message a, a#proceed, .instruction a")
        .await
    {
        browser
            .click("#kc-info-message a, a#proceed, .instruction a")
            .await;
    }
    browser.wait_for("#registerWebAuthn").await;
    browser.screenshot("02-register-passkey").await;
    // The page asks for a label with window.prompt; answer it.
    browser
        .execute("window.prompt = function () { return 'Laptop passkey'; };")
        .await;
    browser.click("#registerWebAuthn").await;
    wait_signed_in_or_done(&browser, &app.realm).await;
    browser.screenshot("03-passkey-registered").await;
    let stored = browser.authenticator_credentials(&authenticator).await;
    assert_eq!(
        stored.len(),
        1,
        "one resident passkey on the authenticator: {stored:?}"
    );
    let types = app
        .kc
        .credential_types(&app.realm, &id)
        .await
        .expect("credentials");
    assert!(
        types.iter().any(|t| t == "webauthn-passwordless"),
        "{types:?}"
    );
    // Following the emailed link proved the address: Keycloak marks it verified.
    assert_eq!(
        app.kc_user(&id).await.email_verified,
        Some(true),
        "email verified by the link"
    );
    let registered = started.elapsed();

    // Sign out. Passkey autofill: the sign-in page asks the browser for a
    // passkey as it loads; the virtual authenticator answers the way a user
    // picks the passkey from the username field's suggestions.
    sign_out(&browser, &app.realm).await;
    let uses = passkey_uses(&browser, &authenticator).await;
    browser.goto(&account_url(&app.realm)).await;
    signed_in_with_one_passkey_use(&browser, &app.realm, &authenticator, uses, "autofill").await;

    // From here on a browser without autofill. The sign-in page offers the
    // username and "Sign in with Passkey", and no password field.
    sign_out(&browser, &app.realm).await;
    browser.without_passkey_autofill().await;
    browser.goto(&account_url(&app.realm)).await;
    browser.wait_for(LOGIN_FORM_USERNAME).await;
    browser.wait_for("#authenticateWebAuthnButton").await;
    browser.screenshot("04-sign-in-page").await;
    assert_no_password_field(&browser, "the sign-in page").await;

    // Username, then the passkey of that user: one passkey assertion.
    let uses = passkey_uses(&browser, &authenticator).await;
    browser.fill(LOGIN_FORM_USERNAME, email).await;
    browser.click("#kc-login").await;
    browser
        .wait_for_gone(LOGIN_FORM_USERNAME, "the passkey step after the username")
        .await;
    browser
        .wait_for("#kc-form-webauthn #authenticateWebAuthnButton")
        .await;
    browser.screenshot("04b-passkey-after-username").await;
    assert_no_password_field(&browser, "the passkey step").await;
    let offered = browser
        .execute(
            "return document.querySelectorAll('#authn_select input[name=authn_use_chk]').length;",
        )
        .await;
    assert_eq!(
        offered,
        serde_json::json!(1),
        "the passkey step asks for the typed user's one passkey"
    );
    browser.click("#authenticateWebAuthnButton").await;
    signed_in_with_one_passkey_use(
        &browser,
        &app.realm,
        &authenticator,
        uses,
        "username then passkey",
    )
    .await;

    // The discoverable passkey, no username typed: one assertion, no
    // second passkey step.
    sign_out(&browser, &app.realm).await;
    let uses = passkey_uses(&browser, &authenticator).await;
    sign_in_with_passkey(&browser, &app.realm).await;
    signed_in_with_one_passkey_use(
        &browser,
        &app.realm,
        &authenticator,
        uses,
        "the discoverable passkey",
    )
    .await;
    browser.screenshot("05-account-console").await;
    assert!(!sessions(&app, &id).await.is_empty(), "a session is open");

    // Entra disables the user: the session ends and sign-in is refused.
    let disabled = app
        .patch(&format!("/Users/{id}"), &patch_active("False"))
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    assert!(
        sessions(&app, &id).await.is_empty(),
        "every session ended by the disable"
    );
    // The same browser, cookies kept: the account console sends it to sign-in.
    browser.goto(&account_url(&app.realm)).await;
    browser.wait_for("#authenticateWebAuthnButton").await;
    browser.screenshot("06-session-gone").await;
    sign_in_with_passkey(&browser, &app.realm).await;
    assert_sign_in_refused(
        &browser,
        &app.realm,
        "07-disabled-refused",
        "Account is disabled",
    )
    .await;

    // Entra enables the user again: the passkey works (no new email: the
    // user has a passkey).
    let enabled = app
        .patch(&format!("/Users/{id}"), &patch_active("True"))
        .await;
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    assert!(
        sink.try_next().await.is_none(),
        "no onboarding email for a user with a passkey"
    );
    sign_in_with_passkey(&browser, &app.realm).await;
    wait_signed_in(&browser, &app.realm, "Ada").await;
    browser.screenshot("08-enabled-again").await;

    // Another provisioned user, no passkey yet: typing that username gets
    // no passkey step, no offer to register one and no password field;
    // Keycloak refuses ("credential setup required").
    let other = app
        .post(
            "/Users",
            &entra_user(
                "Grace.Hopper@Contoso.example",
                "grace.hopper@contoso.example",
            ),
        )
        .await;
    assert_eq!(other.status, 201, "{}", other.body);
    sink.next(MAIL_WAIT)
        .await
        .expect("Grace's onboarding email");
    browser.clear_cookies().await;
    browser.goto(&account_url(&app.realm)).await;
    browser
        .fill(LOGIN_FORM_USERNAME, "grace.hopper@contoso.example")
        .await;
    browser.click("#kc-login").await;
    browser
        .wait_for_gone(
            LOGIN_FORM_USERNAME,
            "the answer for a user without a passkey",
        )
        .await;
    assert_sign_in_refused(
        &browser,
        &app.realm,
        "08b-no-passkey-refused",
        "credential setup required",
    )
    .await;
    assert!(
        !browser.has("#kc-form-webauthn, #registerWebAuthn").await,
        "neither a passkey prompt nor a registration for a user without a passkey"
    );
    assert_no_password_field(&browser, "the refusal").await;

    // Entra deletes the user: sessions end, sign-in is refused.
    let deleted = app.delete(&format!("/Users/{id}")).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    sign_in_with_passkey(&browser, &app.realm).await;
    assert_sign_in_refused(&browser, &app.realm, "09-deleted-refused", "Unknown user").await;
    browser.close().await;
    println!(
        "passkey browser test: email after {:.1} s, passkey registered after {:.1} s, whole run {:.1} s",
        provisioned.as_secs_f64(),
        registered.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

/// After the registration: Keycloak either lands on the account console
/// (the link's redirect) or says the account was updated.
async fn wait_signed_in_or_done(browser: &Browser, realm: &str) {
    let prefix = account_url(realm);
    let deadline = Instant::now() + common::browser::WAIT;
    loop {
        let url = browser.url().await;
        if url.as_str().starts_with(&prefix) || browser.has("#kc-info-message").await {
            return;
        }
        if Instant::now() > deadline {
            browser.screenshot("timeout-after-register").await;
            let source = browser.client().source().await.unwrap_or_default();
            panic!(
                "neither the account console nor a confirmation at {url}:\n{}",
                source.chars().take(3000).collect::<String>()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Signs out through Keycloak's logout endpoint (with its confirmation).
async fn sign_out(browser: &Browser, realm: &str) {
    browser
        .goto(&format!(
            "{}/realms/{realm}/protocol/openid-connect/logout",
            localhost_url()
        ))
        .await;
    browser.click("#kc-logout").await;
    // The confirmation page has a header too: wait until it is gone.
    browser
        .wait_for_gone("#kc-logout-confirm", "the signed-out page")
        .await;
    browser.wait_for("#kc-page-title, #kc-header").await;
    browser.clear_cookies().await;
}
