//! The mass-deprovision breaker as an admin sees it: whether it tripped, and
//! the reset that lets disables and deletes through again.

use super::tokens::client_and_settings;
use crate::keycloak::KcAdmin;
use crate::settings_store;

/// When the realm's breaker tripped, if it is open.
pub async fn breaker_status(kc: &KcAdmin, realm: &str) -> anyhow::Result<Option<String>> {
    Ok(client_and_settings(kc, realm).await?.1.breaker_tripped_at)
}

/// Closes the realm's breaker; returns whether it was open. Replicas see
/// the reset within their settings cache TTL.
pub async fn reset_breaker(kc: &KcAdmin, realm: &str) -> anyhow::Result<bool> {
    let reset = settings_store::update(kc, realm, |settings| {
        Ok::<_, anyhow::Error>(settings.breaker_tripped_at.take().is_some())
    })
    .await?;
    Ok(reset.value)
}
