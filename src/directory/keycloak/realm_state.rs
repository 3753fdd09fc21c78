//! A realm's state as the directory serves it: the SCIM settings and mapper
//! table of the `scim-endpoint` client (two calls to load), the resolved
//! group parent, and the service-account users SCIM never shows.
//!
//! Invariant: a realm the registry does not serve, that has no
//! `scim-endpoint` client, or whose SCIM is disabled is "not found", and a
//! realm the registry does not serve is never loaded nor cached.

use std::collections::HashSet;
use std::sync::Arc;

use super::{kc_err, KcDirectory};
use crate::directory::{DirectoryError, RealmView};
use crate::keycloak::{KcError, KcUser};
use crate::mapping::group::group_schema;
use crate::mapping::{MapperTable, UserMapping};
use crate::realm::RealmName;
use crate::settings_store::{self, SettingsError};

pub(super) struct RealmState {
    pub(super) view: Arc<RealmView>,
    pub(super) mapping: UserMapping,
    /// `(id, path)` of the group SCIM groups live under, if configured.
    pub(super) group_parent: Option<(String, String)>,
}

impl RealmState {
    /// The id of the group SCIM groups live under, if configured.
    pub(super) fn parent_id(&self) -> Option<&str> {
        self.group_parent.as_ref().map(|(id, _)| id.as_str())
    }
}

/// Service-account users: never shown to SCIM (Keycloak's user
/// representation does not say which users are service accounts).
#[derive(Default)]
pub(super) struct ServiceAccounts {
    pub(super) ids: HashSet<String>,
    /// The `realm-management` client's id, found on the way.
    pub(super) realm_management: Option<String>,
}

impl ServiceAccounts {
    /// Whether SCIM must not see `user`: a service account of a client
    /// listed when this set was loaded, or a user with the username Keycloak
    /// gives service accounts. The name catches, without a call, what the
    /// cached list cannot: a client given a service account since the load,
    /// and one the run-time account may not list.
    pub(super) fn hides(&self, user: &KcUser) -> bool {
        user.named_as_service_account() || user.id.as_deref().is_some_and(|id| self.has_id(id))
    }

    /// Whether `id` is one of the listed service accounts, in any case (a
    /// database may match ids case-insensitively; Keycloak's are lowercase).
    pub(super) fn has_id(&self, id: &str) -> bool {
        self.ids.contains(id) || self.ids.contains(&id.to_ascii_lowercase())
    }
}

impl KcDirectory {
    /// The realm's cached state; the name was validated at the edge.
    pub(super) async fn state(&self, realm: &RealmName) -> Result<Arc<RealmState>, DirectoryError> {
        if !self.registry.serves(realm)? {
            return Err(DirectoryError::NotFound(format!(
                "SCIM is not served for realm {realm}"
            )));
        }
        let state = self
            .realms
            .get_or_load(realm, self.opts.cache_ttl, || self.load_state(realm))
            .await?;
        if !state.view.settings.enabled {
            return Err(DirectoryError::NotFound(format!(
                "SCIM is not enabled for realm {realm}"
            )));
        }
        Ok(state)
    }

    pub(super) async fn load_state(
        &self,
        realm: &str,
    ) -> Result<Option<RealmState>, DirectoryError> {
        let (client, settings) = match settings_store::load(&self.kc, realm).await {
            Ok(loaded) => loaded,
            Err(SettingsError::NoClient(_) | SettingsError::Kc(KcError::NotFound(_))) => {
                return Ok(None)
            }
            Err(SettingsError::Kc(e)) => return Err(DirectoryError::from_kc(e, "realm")),
            Err(SettingsError::Unreadable { detail, .. }) => {
                return Err(DirectoryError::Backend(format!(
                    "unreadable SCIM settings of realm {realm}: {detail}"
                )))
            }
            Err(other) => return Err(other.into()),
        };
        let client_uuid = client.id.unwrap_or_default();
        let scim_service_account = if client.service_accounts_enabled == Some(true) {
            self.kc
                .service_account_user(realm, &client_uuid)
                .await
                .map_err(kc_err("service account"))?
                .and_then(|u| u.id)
        } else {
            None
        };
        let mappers = self
            .kc
            .protocol_mappers(realm, &client_uuid)
            .await
            .map_err(kc_err("mappers"))?;
        let mapping = UserMapping::new(&MapperTable::from_kc(&mappers));
        for (name, reason) in &mapping.skipped {
            tracing::warn!(realm, mapper = %name, %reason, "mapper not used for SCIM");
        }
        let base_url = format!(
            "{}/realms/{realm}/scim/v2",
            self.opts.public_url.trim_end_matches('/')
        );
        let group_parent = match &settings.group_parent {
            None => None,
            Some(path) => {
                let group = self
                    .kc
                    .group_by_path(realm, path)
                    .await
                    .map_err(kc_err("group parent"))?
                    .ok_or_else(|| {
                        DirectoryError::Backend(format!(
                            "the configured group parent {path} does not exist in realm {realm}"
                        ))
                    })?;
                let id = group.id.unwrap_or_default();
                let path = group.path.unwrap_or_else(|| path.clone());
                Some((id, path))
            }
        };
        Ok(Some(RealmState {
            view: Arc::new(RealmView {
                settings,
                user_schema: mapping.schema().clone(),
                user_input_schema: mapping.input_schema().clone(),
                group_schema: group_schema(),
                base_url,
                scim_service_account,
            }),
            mapping,
            group_parent,
        }))
    }

    pub(super) async fn service_accounts(
        &self,
        realm: &str,
    ) -> Result<Arc<ServiceAccounts>, DirectoryError> {
        self.service_accounts
            .get_or_load(realm, self.opts.cache_ttl, || async {
                self.load_service_accounts(realm).await.map(Some)
            })
            .await
    }

    /// The service-account users of every client that has one.
    pub(super) async fn load_service_accounts(
        &self,
        realm: &str,
    ) -> Result<ServiceAccounts, DirectoryError> {
        let kc = &self.kc;
        let err = kc_err("service accounts");
        let mut out = ServiceAccounts::default();
        for c in kc.list_clients(realm, 10_000).await.map_err(&err)? {
            let Some(id) = c.id else { continue };
            if c.client_id == "realm-management" {
                out.realm_management = Some(id.clone());
            }
            if c.service_accounts_enabled != Some(true) {
                continue;
            }
            if let Some(uid) = kc
                .service_account_user(realm, &id)
                .await
                .map_err(&err)?
                .and_then(|u| u.id)
            {
                out.ids.insert(uid);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::ServiceAccounts;
    use crate::keycloak::KcUser;

    fn user(id: &str, username: &str) -> KcUser {
        KcUser {
            id: Some(id.to_owned()),
            username: Some(username.to_owned()),
            ..KcUser::default()
        }
    }

    #[test]
    fn service_accounts_are_known_by_listed_id_in_any_case_and_by_name() {
        let accounts = ServiceAccounts {
            ids: ["5e0c-aa".to_owned()].into(),
            realm_management: None,
        };
        assert!(accounts.has_id("5e0c-aa"));
        assert!(accounts.has_id("5E0C-AA"));
        assert!(!accounts.has_id("5e0c-ab"));
        assert!(accounts.hides(&user("5E0C-AA", "renamed")));
        assert!(accounts.hides(&user("new-id", "service-account-new-app")));
        assert!(!accounts.hides(&user("u1", "alice@contoso.com")));
        assert!(!accounts.hides(&KcUser::default()));
    }
}
