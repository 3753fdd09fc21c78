//! What a SCIM write does to sign-in beyond the user record: the passkey
//! onboarding email (Keycloak's execute-actions email with
//! `webauthn-register-passwordless`) for a new or re-enabled user, and the
//! per-user logout that ends every session of a disabled or deleted user.
//!
//! Invariants: onboarding costs Admin API calls only in a realm with
//! `kcscim.onboarding = email` and only for an active user with an email
//! (create: one call; re-enable: two, the credential check and the email);
//! a failure to send never fails the SCIM request — it is logged (without
//! the link or any token), counted and audited. The email's link returns to
//! the realm's account console under `keycloak.public_url`, which must be
//! the realm's frontend URL as Keycloak sees it (Keycloak refuses other
//! redirects).

use serde_json::Value;

use super::realm_state::RealmState;
use super::KcDirectory;
use crate::keycloak::{KcError, KcUser};
use crate::mapping::settings::Onboarding;

/// The required action the onboarding email runs.
pub const REGISTER_PASSKEY: &str = "webauthn-register-passwordless";
/// The client the email's link returns to.
pub const ACCOUNT_CONSOLE: &str = "account-console";

/// The account console URL of `realm` under `public_url`.
#[must_use]
pub fn account_console_url(public_url: &str, realm: &str) -> String {
    format!(
        "{}/realms/{realm}/account/",
        public_url.trim_end_matches('/')
    )
}

/// Whether a user with these fields gets the onboarding email on create.
#[must_use]
pub fn onboards_on_create(onboarding: Onboarding, user: &KcUser) -> bool {
    onboarding == Onboarding::Email
        && user.enabled == Some(true)
        && user.email.as_deref().is_some_and(|e| !e.trim().is_empty())
}

/// Whether a written SCIM resource has an email to send to.
fn has_email(resource: &Value) -> bool {
    resource
        .get("emails")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

impl KcDirectory {
    /// Asks Keycloak to email `id` the passkey registration link; logs,
    /// counts and audits the outcome. Never fails.
    pub(super) async fn send_onboarding(&self, realm: &str, id: &str, trigger: &str) {
        let result = send_onboarding_email(
            &self.kc,
            realm,
            id,
            &self.opts.public_url,
            self.opts.onboarding_lifespan.as_secs(),
        )
        .await;
        record_onboarding(realm, id, trigger, &result);
    }

    /// The onboarding of a user SCIM just created.
    pub(super) async fn onboard_created(
        &self,
        realm: &str,
        state: &RealmState,
        user: &KcUser,
        id: &str,
    ) {
        if onboards_on_create(state.view.settings.onboarding, user) {
            self.send_onboarding(realm, id, "create").await;
        }
    }

    /// The onboarding of a user SCIM just re-enabled: only when the user has
    /// no credential of any kind. A user with a password or a passkey can
    /// sign in already, and the link would go to the email on file now —
    /// which this very write (or an earlier one) may have set — so it could
    /// hand a passkey for someone else's account to whoever holds that
    /// address. `user onboard` resends by hand.
    pub(super) async fn onboard_reenabled(
        &self,
        realm: &str,
        state: &RealmState,
        id: &str,
        written: &Value,
    ) {
        if state.view.settings.onboarding != Onboarding::Email || !has_email(written) {
            return;
        }
        match self.kc.credential_types(realm, id).await {
            Ok(types) if types.is_empty() => self.send_onboarding(realm, id, "re-enable").await,
            Ok(types) => tracing::info!(
                target: "audit",
                realm,
                operation = "onboarding_email",
                trigger = "re-enable",
                resource_id = id,
                outcome = "skipped",
                credentials = %types.join(","),
                "no onboarding email: the user has a credential already (kc-scim user onboard resends)"
            ),
            Err(e) => record_onboarding(realm, id, "re-enable", &Err(e)),
        }
    }

    /// Ends every session of `id` (Keycloak's per-user logout); logs and
    /// counts the outcome and returns it.
    pub(super) async fn end_sessions(&self, realm: &str, id: &str) -> Result<(), KcError> {
        let result = self.kc.logout_user(realm, id).await;
        let outcome = if result.is_ok() { "ok" } else { "failed" };
        if let Some(m) = crate::telemetry::metrics::metrics() {
            m.session_logouts.with_label_values(&[realm, outcome]).inc();
        }
        let outcome = match &result {
            Ok(()) => "success".to_owned(),
            Err(e) => format!("failure: {e}"),
        };
        tracing::info!(
            target: "audit",
            realm,
            operation = "end_sessions",
            resource_id = id,
            outcome = %outcome,
            "per-user logout"
        );
        result
    }
}

/// The execute-actions email of the passkey onboarding, as `user onboard`
/// and the directory send it.
pub async fn send_onboarding_email(
    kc: &crate::keycloak::KcAdmin,
    realm: &str,
    id: &str,
    public_url: &str,
    lifespan_secs: u64,
) -> Result<(), KcError> {
    kc.execute_actions_email(
        realm,
        id,
        &[REGISTER_PASSKEY],
        lifespan_secs,
        ACCOUNT_CONSOLE,
        &account_console_url(public_url, realm),
    )
    .await
}

/// Logs, counts and audits one onboarding attempt (the error text is
/// Keycloak's, which names the cause — no SMTP sender, a refused
/// redirect — and carries no link or token).
pub fn record_onboarding(realm: &str, id: &str, trigger: &str, result: &Result<(), KcError>) {
    let outcome = if result.is_ok() { "sent" } else { "failed" };
    if let Some(m) = crate::telemetry::metrics::metrics() {
        m.onboarding_emails
            .with_label_values(&[realm, outcome])
            .inc();
    }
    match result {
        Ok(()) => tracing::info!(
            target: "audit",
            realm,
            operation = "onboarding_email",
            trigger,
            resource_id = id,
            outcome = "success",
            "passkey onboarding email sent"
        ),
        Err(e) => tracing::warn!(
            target: "audit",
            realm,
            operation = "onboarding_email",
            trigger,
            resource_id = id,
            outcome = %format!("failure: {e}"),
            "passkey onboarding email not sent (the SCIM request still succeeds)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_active_user_with_an_email_in_an_email_realm_is_onboarded_on_create() {
        let user = |enabled: Option<bool>, email: Option<&str>| KcUser {
            enabled,
            email: email.map(str::to_owned),
            ..KcUser::default()
        };
        let rows = [
            (
                Onboarding::Email,
                user(Some(true), Some("a@example.com")),
                true,
            ),
            (
                Onboarding::None,
                user(Some(true), Some("a@example.com")),
                false,
            ),
            (
                Onboarding::Email,
                user(Some(false), Some("a@example.com")),
                false,
            ),
            (Onboarding::Email, user(Some(true), None), false),
            (Onboarding::Email, user(Some(true), Some("  ")), false),
            (Onboarding::Email, user(None, Some("a@example.com")), false),
        ];
        for (onboarding, u, expected) in rows {
            assert_eq!(
                onboards_on_create(onboarding, &u),
                expected,
                "{onboarding:?} {u:?}"
            );
        }
    }

    #[test]
    fn the_link_returns_to_the_account_console_under_the_public_url() {
        assert_eq!(
            account_console_url("https://id.example.com/", "acme"),
            "https://id.example.com/realms/acme/account/"
        );
    }
}
