//! The one owner of a realm's stored SCIM settings: the `kcscim.*`
//! attributes of its `scim-endpoint` client (enabled, profile, tenant, group
//! parent, tokens, breaker trip). Everything that reads or writes them —
//! the directory, bootstrap, tokens, the breaker reset, `realm set` — goes
//! through [`load`] and [`update`].
//!
//! Invariant: an update writes only the attributes its change touched, onto
//! the client as re-read just before the write, and only if no other writer
//! changed the settings since the change was computed (else the change is
//! recomputed, a bounded number of times). So a breaker trip written after a
//! revoke cannot bring the revoked token back.

use std::collections::BTreeMap;

use crate::keycloak::{KcAdmin, KcClient, KcError};
use crate::mapping::settings::{
    ATTR_BREAKER_TRIPPED, ATTR_ENABLED, ATTR_GROUP_PARENT, ATTR_PROFILE, ATTR_TENANT_ID,
    ATTR_TOKENS,
};
use crate::mapping::{RealmScimSettings, SCIM_CLIENT_ID};

/// The client attributes this module owns.
pub const OWNED_ATTRIBUTES: [&str; 6] = [
    ATTR_ENABLED,
    ATTR_PROFILE,
    ATTR_TENANT_ID,
    ATTR_GROUP_PARENT,
    ATTR_BREAKER_TRIPPED,
    ATTR_TOKENS,
];

/// How often an update is recomputed after a concurrent write.
pub const MAX_ATTEMPTS: usize = 3;

/// Why the settings could not be loaded or updated.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The realm has no `scim-endpoint` client.
    #[error("realm {0:?} has no {SCIM_CLIENT_ID} client: run kc-scim bootstrap first")]
    NoClient(String),
    /// An attribute does not parse.
    #[error("unreadable SCIM settings of realm {realm:?}: {detail}")]
    Unreadable {
        /// The realm.
        realm: String,
        /// Which attribute, and its value.
        detail: String,
    },
    /// Keycloak returned the client without an id.
    #[error("the {SCIM_CLIENT_ID} client of realm {0:?} has no id")]
    NoId(String),
    /// Other writers kept changing the settings.
    #[error(
        "the SCIM settings of realm {realm:?} changed during each of {attempts} attempts to \
         update them; retry"
    )]
    Conflict {
        /// The realm.
        realm: String,
        /// Attempts made.
        attempts: usize,
    },
    /// A Keycloak call failed.
    #[error(transparent)]
    Kc(#[from] KcError),
}

/// The realm's `scim-endpoint` client and its settings.
pub async fn load(
    kc: &KcAdmin,
    realm: &str,
) -> Result<(KcClient, RealmScimSettings), SettingsError> {
    let client = kc
        .find_client(realm, SCIM_CLIENT_ID)
        .await?
        .ok_or_else(|| SettingsError::NoClient(realm.to_owned()))?;
    let settings = RealmScimSettings::from_attributes(&client.attributes).map_err(|detail| {
        SettingsError::Unreadable {
            realm: realm.to_owned(),
            detail,
        }
    })?;
    Ok((client, settings))
}

/// The realms of `among` (every realm the admin credentials see when
/// empty) other than `except` whose SCIM settings name `tenant_id`
/// (compared case-insensitively). An Entra token is scoped to a tenant, not
/// to an app: every realm with that tenant id accepts it. Costs one call per
/// realm, and Keycloak's realm list itself is slow with hundreds of realms
/// (about 150 ms per realm on 26.7.3); realms without a readable
/// `scim-endpoint` client are skipped.
pub async fn realms_with_tenant(
    kc: &KcAdmin,
    tenant_id: &str,
    except: &str,
    among: &[String],
) -> Result<Vec<String>, KcError> {
    let realms = if among.is_empty() {
        kc.realm_names().await?
    } else {
        among.to_vec()
    };
    let mut out = Vec::new();
    for realm in realms {
        if realm == except {
            continue;
        }
        match load(kc, &realm).await {
            Ok((_, settings))
                if settings
                    .tenant_id
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case(tenant_id)) =>
            {
                out.push(realm);
            }
            // A realm deleted meanwhile has no tenant either.
            Err(SettingsError::Kc(e)) if !matches!(e, KcError::NotFound(_)) => return Err(e),
            _ => {}
        }
    }
    Ok(out)
}

/// Refuses `tenant_id` for `realm` when another realm of `among` (see
/// [`realms_with_tenant`]) already has it, unless `allow_shared` (then the
/// sharing is the admin's informed choice).
pub async fn ensure_tenant_not_shared(
    kc: &KcAdmin,
    realm: &str,
    tenant_id: &str,
    allow_shared: bool,
    among: &[String],
) -> anyhow::Result<()> {
    if allow_shared {
        return Ok(());
    }
    let others = realms_with_tenant(kc, tenant_id, realm, among).await?;
    anyhow::ensure!(
        others.is_empty(),
        "tenant id {tenant_id} is already used by realm {}: an Entra token of that tenant \
         would be accepted by both realms. Use static tokens, or pass --allow-shared-tenant \
         to share it knowingly",
        others.join(", ")
    );
    Ok(())
}

/// What an [`update`] did.
#[derive(Debug)]
pub struct Updated<T> {
    /// What the change returned.
    pub value: T,
    /// The settings as they now stand.
    pub settings: RealmScimSettings,
    /// Whether anything was written.
    pub written: bool,
}

/// Applies `change` to the realm's current settings and writes the
/// attributes it changed. `change` may run more than once (after a
/// concurrent write); its error ends the update without a write.
pub async fn update<T, E>(
    kc: &KcAdmin,
    realm: &str,
    mut change: impl FnMut(&mut RealmScimSettings) -> Result<T, E>,
) -> Result<Updated<T>, E>
where
    E: From<SettingsError>,
{
    let (mut client, mut read) = load(kc, realm).await?;
    for _ in 0..MAX_ATTEMPTS {
        let mut wanted = read.clone();
        let value = change(&mut wanted)?;
        // A client missing some of the owned attributes gets them written
        // (Keycloak keeps what an update leaves out; every reader expects all).
        if wanted == read && RealmScimSettings::all_keys_present(&client.attributes) {
            return Ok(Updated {
                value,
                settings: wanted,
                written: false,
            });
        }
        let (mut fresh, fresh_settings) = load(kc, realm).await?;
        if conflicts(&client.attributes, &fresh.attributes) {
            (client, read) = (fresh, fresh_settings);
            continue;
        }
        fresh.attributes = merge(&read, &wanted, &fresh.attributes);
        let id = fresh
            .id
            .clone()
            .ok_or_else(|| SettingsError::NoId(realm.to_owned()))?;
        kc.update_client(realm, &id, &fresh)
            .await
            .map_err(SettingsError::from)?;
        return Ok(Updated {
            value,
            settings: wanted,
            written: true,
        });
    }
    Err(SettingsError::Conflict {
        realm: realm.to_owned(),
        attempts: MAX_ATTEMPTS,
    }
    .into())
}

/// The owned attributes of `attrs`, missing ones as `None`.
fn owned(attrs: &BTreeMap<String, String>) -> Vec<Option<&String>> {
    OWNED_ATTRIBUTES.iter().map(|k| attrs.get(*k)).collect()
}

/// Whether another writer changed the settings between the read a change
/// was computed from (`read`) and the re-read before the write (`fresh`).
#[must_use]
pub fn conflicts(read: &BTreeMap<String, String>, fresh: &BTreeMap<String, String>) -> bool {
    owned(read) != owned(fresh)
}

/// `fresh` with the attributes that differ between `read` and `wanted` set
/// to `wanted`'s values, and any owned attribute `fresh` lacks filled in
/// (Keycloak keeps attributes an update leaves out, so every written
/// client carries all of them). Other attributes are `fresh`'s.
#[must_use]
pub fn merge(
    read: &RealmScimSettings,
    wanted: &RealmScimSettings,
    fresh: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let (mut before, mut after) = (BTreeMap::new(), BTreeMap::new());
    read.write_attributes(&mut before);
    wanted.write_attributes(&mut after);
    let mut out = fresh.clone();
    for (key, value) in after {
        if before.get(&key) != Some(&value) || !out.contains_key(&key) {
            out.insert(key, value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::StoredToken;

    fn token(id: &str) -> StoredToken {
        StoredToken {
            id: id.to_owned(),
            sha256: "00".repeat(32),
            created: "2026-01-01T00:00:00Z".to_owned(),
            expires: None,
        }
    }

    fn attrs_of(s: &RealmScimSettings) -> BTreeMap<String, String> {
        let mut attrs = BTreeMap::new();
        attrs.insert("other".to_owned(), "kept".to_owned());
        s.write_attributes(&mut attrs);
        attrs
    }

    fn with_tokens(ids: &[&str]) -> RealmScimSettings {
        RealmScimSettings {
            tokens: ids.iter().map(|id| token(id)).collect(),
            ..RealmScimSettings::default()
        }
    }

    #[test]
    fn a_breaker_trip_written_after_a_revoke_does_not_bring_the_revoked_token_back() {
        // The breaker computed its trip from settings that still had `a`…
        let read = with_tokens(&["a", "b"]);
        let mut tripped = read.clone();
        tripped.breaker_tripped_at = Some("2026-06-01T00:00:00Z".to_owned());
        // …while a revoke of `a` landed first.
        let fresh = attrs_of(&with_tokens(&["b"]));
        let merged = merge(&read, &tripped, &fresh);
        let result = RealmScimSettings::from_attributes(&merged).expect("readable");
        assert_eq!(result.tokens, vec![token("b")]);
        assert_eq!(result.breaker_tripped_at, tripped.breaker_tripped_at);
        assert_eq!(merged.get("other").map(String::as_str), Some("kept"));
    }

    #[test]
    fn a_revoke_is_detected_as_a_conflicting_write() {
        let read = attrs_of(&with_tokens(&["a", "b"]));
        let fresh = attrs_of(&with_tokens(&["b"]));
        assert!(conflicts(&read, &fresh));
    }

    #[test]
    fn only_owned_attributes_decide_a_conflict() {
        let read = attrs_of(&with_tokens(&["a"]));
        let mut fresh = read.clone();
        fresh.insert("other".to_owned(), "changed".to_owned());
        fresh.insert("pkce.code.challenge.method".to_owned(), "S256".to_owned());
        assert!(!conflicts(&read, &fresh));
        let mut emptied = read.clone();
        emptied.remove(ATTR_TOKENS);
        assert!(conflicts(&read, &emptied));
    }

    #[test]
    fn an_unchanged_attribute_keeps_the_fresh_value() {
        let read = RealmScimSettings::default();
        let mut wanted = read.clone();
        wanted.enabled = false;
        let mut fresh = attrs_of(&read);
        fresh.insert(ATTR_TENANT_ID.to_owned(), "t-from-elsewhere".to_owned());
        let merged = merge(&read, &wanted, &fresh);
        assert_eq!(merged.get(ATTR_ENABLED).map(String::as_str), Some("false"));
        assert_eq!(
            merged.get(ATTR_TENANT_ID).map(String::as_str),
            Some("t-from-elsewhere")
        );
    }

    #[test]
    fn missing_owned_attributes_are_filled_in_on_a_write() {
        let read = RealmScimSettings::default();
        let mut wanted = read.clone();
        wanted.breaker_tripped_at = Some("2026-06-01T00:00:00Z".to_owned());
        let merged = merge(&read, &wanted, &BTreeMap::new());
        assert!(OWNED_ATTRIBUTES.iter().all(|k| merged.contains_key(*k)));
        assert!(RealmScimSettings::all_keys_present(&merged));
    }
}
