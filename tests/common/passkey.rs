//! Set-up shared by the passkey tests: a served realm whose frontend URL is
//! `http://localhost:<port>` (WebAuthn refuses IP-address origins), whose
//! SMTP server is a local sink, with `kcscim.onboarding = email`, and a
//! kc-scim whose `keycloak.public_url` is that same localhost URL.
#![allow(dead_code)] // each test binary uses a different part

use serde_json::{json, Value};

use super::smtp::SmtpSink;
use super::TestApp;

/// The test Keycloak as a browser reaches it: `localhost`, not an IP.
pub(crate) fn localhost_url() -> String {
    let base = url::Url::parse(&super::kc_url()).expect("KC_TEST_URL is a URL");
    let port = base.port_or_known_default().expect("a port");
    format!("{}://localhost:{port}", base.scheme())
}

/// An app serving a fresh realm set up for passkey sign-in and onboarding
/// (`smtp`: the realm's mail goes to this sink; `None`: no SMTP at all).
pub(crate) async fn spawn_passkey_app(prefix: &str, smtp: Option<&SmtpSink>) -> TestApp {
    let public = localhost_url();
    let app =
        super::spawn_app_with(prefix, &[("KCSCIM_KEYCLOAK__PUBLIC_URL", public.as_str())]).await;
    let mut fields = json!({"attributes": {"frontendUrl": public}});
    if let Some(sink) = smtp {
        fields["smtpServer"] = sink.realm_config();
    }
    app.kc
        .update_realm_fields(&app.realm, &fields)
        .await
        .expect("realm frontend URL and SMTP");
    set_onboarding(&app, "email").await;
    app
}

/// Sets the realm's onboarding (`email` / `none`) and drops the server's cache.
pub(crate) async fn set_onboarding(app: &TestApp, value: &str) {
    let onboarding = kc_scim::mapping::Onboarding::parse(value).expect("onboarding value");
    kc_scim::settings_store::update(&app.kc, &app.realm, |s| {
        s.onboarding = onboarding;
        Ok::<_, kc_scim::settings_store::SettingsError>(())
    })
    .await
    .expect("onboarding set");
    app.directory.invalidate(&app.realm).await;
}

/// An Entra-shaped user (what Entra's default mapping sends on create).
pub(crate) fn entra_user(user_name: &str, email: &str) -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": format!("ext-{user_name}"),
        "userName": user_name,
        "active": true,
        "displayName": "Ada Lovelace",
        "emails": [{"primary": true, "type": "work", "value": email}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Engineering"}
    })
}

/// Entra's PATCH of `active` (`"True"` / `"False"` as strings).
pub(crate) fn patch_active(value: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": value}]
    })
}

/// The user's open sessions, through the Admin API.
pub(crate) async fn sessions(app: &TestApp, id: &str) -> Vec<Value> {
    app.kc
        .get_realm_value(&app.realm, &["users", id, "sessions"], &[])
        .await
        .expect("sessions listed")
        .as_array()
        .cloned()
        .unwrap_or_default()
}
