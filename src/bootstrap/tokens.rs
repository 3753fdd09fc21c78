//! Static bearer tokens of a realm: created (the secret is returned once,
//! only its hash is stored on the `scim-endpoint` client), listed, revoked.

use anyhow::{bail, Context};

use crate::auth::new_static_token;
use crate::keycloak::{KcAdmin, KcClient};
use crate::mapping::{RealmScimSettings, StoredToken, SCIM_CLIENT_ID};

/// The realm's `scim-endpoint` client and its SCIM settings.
pub(crate) async fn client_and_settings(
    kc: &KcAdmin,
    realm: &str,
) -> anyhow::Result<(KcClient, RealmScimSettings)> {
    let client = kc
        .find_client(realm, SCIM_CLIENT_ID)
        .await?
        .with_context(|| {
            format!("realm {realm:?} has no {SCIM_CLIENT_ID} client: run kc-scim bootstrap first")
        })?;
    let settings = RealmScimSettings::from_attributes(&client.attributes)
        .map_err(|e| anyhow::anyhow!("unreadable SCIM settings of realm {realm:?}: {e}"))?;
    Ok((client, settings))
}

/// Writes `settings` into the client's attributes and saves the client.
pub(crate) async fn store(
    kc: &KcAdmin,
    realm: &str,
    mut client: KcClient,
    settings: &RealmScimSettings,
) -> anyhow::Result<()> {
    settings.write_attributes(&mut client.attributes);
    let id = client.id.clone().context("client without id")?;
    kc.update_client(realm, &id, &client).await?;
    Ok(())
}

/// Creates a token; returns its stored form and the secret (shown once).
pub async fn create_token(
    kc: &KcAdmin,
    realm: &str,
    expires_in_days: Option<u32>,
) -> anyhow::Result<(StoredToken, String)> {
    let (client, mut settings) = client_and_settings(kc, realm).await?;
    let now = chrono::Utc::now();
    let expires = expires_in_days.map(|d| now + chrono::Duration::days(i64::from(d)));
    let (stored, secret) = new_static_token(now, expires);
    settings.tokens.push(stored.clone());
    store(kc, realm, client, &settings).await?;
    Ok((stored, secret))
}

/// The realm's tokens (hashes are not shown by callers).
pub async fn list_tokens(kc: &KcAdmin, realm: &str) -> anyhow::Result<Vec<StoredToken>> {
    Ok(client_and_settings(kc, realm).await?.1.tokens)
}

/// Revokes token `id`.
pub async fn revoke_token(kc: &KcAdmin, realm: &str, id: &str) -> anyhow::Result<()> {
    let (client, mut settings) = client_and_settings(kc, realm).await?;
    let before = settings.tokens.len();
    settings.tokens.retain(|t| t.id != id);
    if settings.tokens.len() == before {
        bail!("realm {realm:?} has no token with id {id:?}");
    }
    store(kc, realm, client, &settings).await
}
