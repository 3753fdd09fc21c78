//! Static bearer tokens of a realm: created (the secret is returned once,
//! only its hash is stored on the `scim-endpoint` client), listed, revoked.

use anyhow::bail;

use crate::auth::new_static_token;
use crate::keycloak::{KcAdmin, KcClient};
use crate::mapping::{RealmScimSettings, StoredToken};
use crate::settings_store;

/// The realm's `scim-endpoint` client and its SCIM settings.
pub(crate) async fn client_and_settings(
    kc: &KcAdmin,
    realm: &str,
) -> anyhow::Result<(KcClient, RealmScimSettings)> {
    Ok(settings_store::load(kc, realm).await?)
}

/// Creates a token; returns its stored form and the secret (shown once).
pub async fn create_token(
    kc: &KcAdmin,
    realm: &str,
    expires_in_days: Option<u32>,
) -> anyhow::Result<(StoredToken, String)> {
    let now = chrono::Utc::now();
    let expires = expires_in_days.map(|d| now + chrono::Duration::days(i64::from(d)));
    let (stored, secret) = new_static_token(now, expires);
    settings_store::update(kc, realm, |settings| {
        settings.tokens.push(stored.clone());
        Ok::<_, anyhow::Error>(())
    })
    .await?;
    Ok((stored, secret))
}

/// The realm's tokens (hashes are not shown by callers).
pub async fn list_tokens(kc: &KcAdmin, realm: &str) -> anyhow::Result<Vec<StoredToken>> {
    Ok(client_and_settings(kc, realm).await?.1.tokens)
}

/// Revokes token `id`.
pub async fn revoke_token(kc: &KcAdmin, realm: &str, id: &str) -> anyhow::Result<()> {
    settings_store::update(kc, realm, |settings| {
        let before = settings.tokens.len();
        settings.tokens.retain(|t| t.id != id);
        if settings.tokens.len() == before {
            bail!("realm {realm:?} has no token with id {id:?}");
        }
        Ok(())
    })
    .await?;
    Ok(())
}
