//! The served-realm registry: the set of realms kc-scim answers for, held
//! in memory and re-read from Keycloak in the background. A realm is served
//! when its `scim-endpoint` client carries `kcscim.enabled = "true"`
//! (written by bootstrap or `realm set`; a missing setting means off), it
//! is in the configured `realms` list when that list is set, and it is
//! neither `master` nor the realm of the sidecar's own admin credentials.
//!
//! Invariants: a request never makes this registry call Keycloak — only
//! start-up, the background refresh and an explicit [`RealmRegistry::refresh_realm`]
//! do; the set holds at most [`MAX_SERVED_REALMS`] names, all from Keycloak's
//! own realm list or the configured list, never a name taken from a request;
//! a reserved realm is never in it. A refresh that fails keeps what was known.

use std::collections::{BTreeSet, HashSet};

use futures::stream::{self, StreamExt};
use tokio::sync::Mutex;

use crate::directory::DirectoryError;
use crate::keycloak::{KcAdmin, KcError};
use crate::mapping::settings::ATTR_ENABLED;
use crate::mapping::{reserved_realm, SCIM_CLIENT_ID};
use crate::realm::RealmName;

/// Most realms one registry serves; further ones are left out (and logged).
pub const MAX_SERVED_REALMS: usize = 10_000;

/// How many realms a refresh checks at once.
const CHECK_CONCURRENCY: usize = 4;

/// The realms served, and how to re-read them.
pub struct RealmRegistry {
    /// Its own admin client, so its calls are counted apart from requests'.
    kc: KcAdmin,
    /// The configured `realms` list, when set: nothing else is served.
    listed: Option<BTreeSet<String>>,
    /// `None` until a refresh succeeded once: then nothing is known.
    served: std::sync::RwLock<Option<HashSet<String>>>,
    /// Realms set up by kc-scim (their client carries `kcscim.enabled`,
    /// `true` or `false`) that may be served: the admin page's realms, so an
    /// admin who turned SCIM off can turn it on again.
    managed: std::sync::RwLock<HashSet<String>>,
    /// One refresh (full or of one realm) at a time, so an older read
    /// never overwrites a newer one.
    refreshing: Mutex<()>,
}

impl RealmRegistry {
    /// An empty registry (nothing served until the first refresh) reading
    /// Keycloak through `kc`; `listed` empty means "no list".
    #[must_use]
    pub fn new(kc: KcAdmin, listed: &[String]) -> Self {
        let listed = (!listed.is_empty()).then(|| listed.iter().cloned().collect());
        Self {
            kc,
            listed,
            served: std::sync::RwLock::new(None),
            managed: std::sync::RwLock::new(HashSet::new()),
            refreshing: Mutex::new(()),
        }
    }

    /// The registry's admin client (for its call counters).
    #[must_use]
    pub fn admin(&self) -> &KcAdmin {
        &self.kc
    }

    /// Whether `realm` is served. No Keycloak call: `Unavailable` (the same
    /// for every realm) while no refresh has succeeded yet.
    pub fn serves(&self, realm: &str) -> Result<bool, DirectoryError> {
        let served = self.served.read().map_err(|_| unknown())?;
        served
            .as_ref()
            .map(|set| set.contains(realm))
            .ok_or_else(unknown)
    }

    /// Whether `realm` was set up by kc-scim and may be served, enabled or
    /// not (the admin page's realms). No Keycloak call; `false` until a
    /// refresh has read it.
    #[must_use]
    pub fn manages(&self, realm: &str) -> bool {
        self.managed.read().is_ok_and(|set| set.contains(realm))
    }

    /// The served realms, sorted (logs and tests).
    #[must_use]
    pub fn served(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .served
            .read()
            .ok()
            .and_then(|s| s.as_ref().map(|set| set.iter().cloned().collect()))
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Whether configuration allows serving `realm` at all: a valid name,
    /// not reserved, and in the list when one is set.
    #[must_use]
    pub fn may_serve(&self, realm: &str) -> bool {
        RealmName::parse(realm).is_ok()
            && reserved_realm(realm, self.kc.admin_realm()).is_none()
            && self.listed.as_ref().is_none_or(|l| l.contains(realm))
    }

    /// Re-reads the whole set: the configured list when set (one call per
    /// listed realm), else every realm (one call for the list plus one per
    /// realm). A realm whose check fails keeps its previous membership; a
    /// failed realm list keeps the whole set. Returns how many are served.
    pub async fn refresh(&self) -> Result<usize, KcError> {
        let _one = self.refreshing.lock().await;
        let candidates: Vec<String> = match &self.listed {
            Some(listed) => listed.iter().cloned().collect(),
            None => self.kc.realm_names().await?,
        };
        let mut candidates: Vec<String> = candidates
            .into_iter()
            .filter(|r| self.may_serve(r))
            .collect();
        candidates.sort();
        candidates.dedup();
        let checked: Vec<(String, Result<Option<bool>, KcError>)> = stream::iter(candidates)
            .map(|realm| async move {
                let enabled = enabled_for_scim(&self.kc, &realm).await;
                (realm, enabled)
            })
            .buffer_unordered(CHECK_CONCURRENCY)
            .collect()
            .await;
        let previous = self.served();
        let mut next = HashSet::new();
        let mut managed = HashSet::new();
        let mut failed = 0usize;
        for (realm, enabled) in checked {
            let (keep, set_up) = match enabled {
                Ok(on) => (on == Some(true), on.is_some()),
                Err(e) => {
                    failed += 1;
                    tracing::warn!(realm, error = %e, "cannot check whether the realm is served; kept as it was");
                    (previous.binary_search(&realm).is_ok(), self.manages(&realm))
                }
            };
            if set_up && managed.len() < MAX_SERVED_REALMS {
                managed.insert(realm.clone());
            }
            if keep {
                next.insert(realm);
            }
        }
        if next.len() > MAX_SERVED_REALMS {
            let mut sorted: Vec<String> = next.into_iter().collect();
            sorted.sort();
            tracing::warn!(
                enabled = sorted.len(),
                served = MAX_SERVED_REALMS,
                "more realms are enabled for SCIM than one server serves; the rest are not served"
            );
            sorted.truncate(MAX_SERVED_REALMS);
            next = sorted.into_iter().collect();
        }
        let count = next.len();
        self.replace(next);
        if let Ok(mut guard) = self.managed.write() {
            *guard = managed;
        }
        tracing::debug!(served = count, failed, "served realms refreshed");
        Ok(count)
    }

    /// Re-reads one realm (one call) and adds or removes it at once: for a
    /// realm this process has just set up. Returns whether it is served.
    pub async fn refresh_realm(&self, realm: &str) -> Result<bool, KcError> {
        let _one = self.refreshing.lock().await;
        let state = if self.may_serve(realm) {
            enabled_for_scim(&self.kc, realm).await?
        } else {
            None
        };
        let on = state == Some(true);
        if let Ok(mut managed) = self.managed.write() {
            if state.is_none() {
                managed.remove(realm);
            } else if managed.len() < MAX_SERVED_REALMS {
                managed.insert(realm.to_owned());
            }
        }
        if let Ok(mut guard) = self.served.write() {
            let set = guard.get_or_insert_with(HashSet::new);
            if !on {
                set.remove(realm);
            } else if set.len() < MAX_SERVED_REALMS {
                set.insert(realm.to_owned());
            }
            return Ok(set.contains(realm));
        }
        Ok(false)
    }

    fn replace(&self, next: HashSet<String>) {
        if let Ok(mut guard) = self.served.write() {
            *guard = Some(next);
        }
    }
}

fn unknown() -> DirectoryError {
    DirectoryError::Unavailable {
        detail: "Keycloak is unavailable; retry later".to_owned(),
        retry_after: 5,
    }
}

/// `kcscim.enabled` of the realm's `scim-endpoint` client: `Some(true)`
/// only when exactly `"true"` (served), `Some(false)` for any other value
/// (set up, not served), `None` without the client or the setting, or when
/// the realm is gone (not set up by kc-scim).
async fn enabled_for_scim(kc: &KcAdmin, realm: &str) -> Result<Option<bool>, KcError> {
    match kc.find_client(realm, SCIM_CLIENT_ID).await {
        Ok(client) => {
            Ok(client.and_then(|c| c.attributes.get(ATTR_ENABLED).map(|v| v.as_str() == "true")))
        }
        Err(KcError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::keycloak::{AdminGrant, KcAdminOptions};

    /// A client of a Keycloak that is not there (no call is expected).
    fn offline_admin(admin_realm: &str) -> KcAdmin {
        KcAdmin::new(KcAdminOptions {
            base_url: url::Url::parse("http://127.0.0.1:9").expect("url"),
            admin_realm: admin_realm.to_owned(),
            grant: AdminGrant::Password {
                username: "admin".to_owned(),
                password: "admin".to_owned().into(),
            },
            timeout: Duration::from_millis(200),
            connect_timeout: Duration::from_millis(200),
        })
        .expect("client")
    }

    #[test]
    fn reserved_unlisted_and_invalid_realms_may_never_be_served() {
        let open = RealmRegistry::new(offline_admin("ops"), &[]);
        for (realm, allowed) in [
            ("acme", true),
            ("master", false),
            ("ops", false),
            ("a/b", false),
            ("", false),
        ] {
            assert_eq!(open.may_serve(realm), allowed, "{realm:?} without a list");
        }
        let listed = RealmRegistry::new(
            offline_admin("master"),
            &["acme".to_owned(), "master".to_owned()],
        );
        assert!(listed.may_serve("acme"));
        assert!(!listed.may_serve("beta"), "not listed");
        assert!(!listed.may_serve("master"), "listed, but reserved");
    }

    #[test]
    fn before_the_first_refresh_every_realm_is_unknown_and_no_call_is_made() {
        let registry = RealmRegistry::new(offline_admin("master"), &[]);
        for realm in ["acme", "master", "nope"] {
            assert!(matches!(
                registry.serves(realm),
                Err(DirectoryError::Unavailable { .. })
            ));
        }
        assert!(registry.served().is_empty());
        assert_eq!(registry.admin().stats().calls(), 0);
    }

    #[tokio::test]
    async fn a_failed_first_refresh_leaves_the_set_unknown() {
        let registry = RealmRegistry::new(offline_admin("master"), &[]);
        assert!(registry.refresh().await.is_err());
        assert!(matches!(
            registry.serves("acme"),
            Err(DirectoryError::Unavailable { .. })
        ));
    }
}
