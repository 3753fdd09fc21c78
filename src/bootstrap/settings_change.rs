//! `realm set`: a change of a realm's SCIM settings, validated (tenant id a
//! GUID and not another realm's, group parent existing, Azure with a
//! tenant) and written through the settings owner. The command line and the
//! admin page both call [`change_settings`].

use super::{tokens, Outcome};
use crate::keycloak::KcAdmin;
use crate::mapping::{reserved_realm, Onboarding, Profile, RealmScimSettings};
use crate::realm::RealmName;

/// What to change; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct SettingsChange {
    /// Answer SCIM requests.
    pub enabled: Option<bool>,
    /// Caller profile.
    pub profile: Option<Profile>,
    /// Entra tenant id (a GUID; `""` removes it).
    pub tenant_id: Option<String>,
    /// Allow a tenant id another realm already uses.
    pub allow_shared_tenant: bool,
    /// Adopt pre-existing local users on their first SCIM write.
    pub adopt: Option<bool>,
    /// Count emails SCIM sets as verified.
    pub trust_emails: Option<bool>,
    /// Path of the group SCIM groups live under (`""`: top level).
    pub group_parent: Option<String>,
    /// Whether SCIM emails new users a passkey-registration link.
    pub onboarding: Option<Onboarding>,
    /// Compute, write nothing.
    pub dry_run: bool,
}

/// The tenant id as stored: a hyphenated lowercase GUID.
pub fn parse_tenant_id(tenant: &str) -> anyhow::Result<String> {
    let parsed = uuid::Uuid::parse_str(tenant.trim()).map_err(|_| {
        anyhow::anyhow!(
            "tenant id {:?} is not a GUID (Entra's Tenant ID)",
            tenant.chars().take(80).collect::<String>()
        )
    })?;
    Ok(parsed.hyphenated().to_string())
}

/// Applies `change` to `realm`'s settings; `among` is the configured realm
/// list (where another realm's tenant id is looked for). Returns
/// `Updated` (or, in a dry run, what would be) or `Unchanged`, and the
/// settings as they now stand (or would).
pub async fn change_settings(
    kc: &KcAdmin,
    realm: &RealmName,
    change: &SettingsChange,
    among: &[String],
) -> anyhow::Result<(Outcome, RealmScimSettings)> {
    if let Some(why) = reserved_realm(realm, kc.admin_realm()) {
        anyhow::bail!(why);
    }
    let tenant_id = match change.tenant_id.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(tenant) => {
            let tenant = parse_tenant_id(tenant)?;
            crate::settings_store::ensure_tenant_not_shared(
                kc,
                realm.as_str(),
                &tenant,
                change.allow_shared_tenant,
                among,
            )
            .await?;
            Some(Some(tenant))
        }
    };
    let group_parent = match change.group_parent.as_deref().map(str::trim) {
        None => None,
        Some(path) => {
            let path = path.trim_end_matches('/');
            if path.is_empty() {
                Some(None)
            } else {
                let path = format!("/{}", path.trim_start_matches('/'));
                anyhow::ensure!(
                    kc.group_by_path(realm, &path).await?.is_some(),
                    "group {path} does not exist in realm {realm}: create it first"
                );
                Some(Some(path))
            }
        }
    };
    let apply = |wanted: &mut RealmScimSettings| -> anyhow::Result<()> {
        if let Some(enabled) = change.enabled {
            wanted.enabled = enabled;
        }
        if let Some(profile) = change.profile {
            wanted.profile = profile;
        }
        if let Some(tenant) = &tenant_id {
            wanted.tenant_id.clone_from(tenant);
        }
        if let Some(path) = &group_parent {
            wanted.group_parent.clone_from(path);
        }
        if let Some(adopt) = change.adopt {
            wanted.adopt = adopt;
        }
        if let Some(trust) = change.trust_emails {
            wanted.trust_emails = trust;
        }
        if let Some(onboarding) = change.onboarding {
            wanted.onboarding = onboarding;
        }
        anyhow::ensure!(
            wanted.profile != Profile::Azure || wanted.tenant_id.is_some(),
            "profile azure needs a tenant id: pass --tenant-id"
        );
        Ok(())
    };
    if change.dry_run {
        let (_, current) = tokens::client_and_settings(kc, realm).await?;
        let mut wanted = current.clone();
        apply(&mut wanted)?;
        let outcome = if wanted == current {
            Outcome::Unchanged
        } else {
            Outcome::Updated
        };
        return Ok((outcome, wanted));
    }
    let updated = crate::settings_store::update(kc, realm, apply).await?;
    let outcome = if updated.written {
        Outcome::Updated
    } else {
        Outcome::Unchanged
    };
    Ok((outcome, updated.settings))
}

#[cfg(test)]
mod tests {
    use super::parse_tenant_id;

    #[test]
    fn a_tenant_id_is_a_guid_stored_hyphenated_and_lowercase() {
        assert_eq!(
            parse_tenant_id(" 72F988BF86F141AF91AB2D7CD011DB47 ")
                .ok()
                .as_deref(),
            Some("72f988bf-86f1-41af-91ab-2d7cd011db47")
        );
        for bad in ["", "contoso.onmicrosoft.com", "72f988bf-86f1-41af-91ab"] {
            assert!(parse_tenant_id(bad).is_err(), "{bad:?}");
        }
    }
}
