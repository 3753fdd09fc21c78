//! The protected set of a realm: users and groups SCIM may read but not
//! write — service accounts, and holders of any `realm-management` role
//! (directly, through a group and its subgroups, or through a composite
//! realm role). Loaded on the first write and cached like realm state.
//!
//! Invariant: every write to a user or group checks this set first, and a
//! failure to load it refuses the write.

use std::collections::HashSet;
use std::sync::Arc;

use super::{kc_err, KcDirectory};
use crate::directory::DirectoryError;
use crate::keycloak::{GroupQuery, RoleScope};

/// The page size of the holder and member reads.
const PAGE: usize = 10_000;

/// Users and groups SCIM may read but not write.
#[derive(Default)]
pub(super) struct Protected {
    pub(super) users: HashSet<String>,
    pub(super) groups: HashSet<String>,
}

impl KcDirectory {
    pub(super) async fn protected(&self, realm: &str) -> Result<Arc<Protected>, DirectoryError> {
        self.protected
            .get_or_load(realm, self.opts.cache_ttl, || async {
                self.load_protected(realm).await.map(Some)
            })
            .await
    }

    /// Service-account users, and users and groups holding any
    /// `realm-management` role directly, through a group, or through a realm
    /// role that includes one.
    pub(super) async fn load_protected(&self, realm: &str) -> Result<Protected, DirectoryError> {
        let kc = &self.kc;
        let err = kc_err("protected accounts");
        let accounts = self.service_accounts(realm).await?;
        let mut out = Protected {
            users: accounts.ids.clone(),
            groups: HashSet::new(),
        };
        let Some(rm) = accounts.realm_management.clone() else {
            return Ok(out);
        };
        let rm_scope = RoleScope::Client(&rm);
        // Every realm-management role, and every composite realm role that
        // includes one, is a holder whose users and groups are protected.
        let mut holders: Vec<(RoleScope<'_>, String)> = kc
            .roles(realm, rm_scope)
            .await
            .map_err(&err)?
            .into_iter()
            .map(|role| (rm_scope, role.name))
            .collect();
        for role in kc.roles(realm, RoleScope::Realm).await.map_err(&err)? {
            if !role.composite {
                continue;
            }
            let included = kc
                .role_client_composites(realm, &role.name, &rm)
                .await
                .map_err(&err)?;
            if !included.is_empty() {
                holders.push((RoleScope::Realm, role.name));
            }
        }
        for (scope, role) in holders {
            let users = kc
                .role_users(realm, scope, &role, 0, PAGE)
                .await
                .map_err(&err)?;
            out.users.extend(users.into_iter().filter_map(|u| u.id));
            let groups = kc
                .role_groups(realm, scope, &role, 0, PAGE)
                .await
                .map_err(&err)?;
            for id in groups.into_iter().filter_map(|g| g.id) {
                self.protect_group_tree(realm, &id, &mut out, 0).await?;
            }
        }
        Ok(out)
    }

    /// Marks a group, its members, and (members inherit roles) its subgroups.
    pub(super) async fn protect_group_tree(
        &self,
        realm: &str,
        group: &str,
        out: &mut Protected,
        depth: usize,
    ) -> Result<(), DirectoryError> {
        if depth > 8 || !out.groups.insert(group.to_owned()) {
            return Ok(());
        }
        let err = kc_err("protected groups");
        let members = self
            .kc
            .group_members(realm, group, 0, PAGE)
            .await
            .map_err(&err)?;
        out.users.extend(members.into_iter().filter_map(|u| u.id));
        let children = GroupQuery {
            first: 0,
            max: PAGE,
            ..GroupQuery::default()
        };
        let children = self
            .kc
            .find_groups(realm, Some(group), &children)
            .await
            .map_err(&err)?;
        for id in children.into_iter().filter_map(|c| c.id) {
            Box::pin(self.protect_group_tree(realm, &id, out, depth + 1)).await?;
        }
        Ok(())
    }

    pub(super) async fn ensure_writable(
        &self,
        realm: &str,
        id: &str,
    ) -> Result<(), DirectoryError> {
        if self.protected(realm).await?.users.contains(id) {
            return Err(DirectoryError::Forbidden(format!(
                "User {id} holds Keycloak admin roles and is read-only to SCIM"
            )));
        }
        Ok(())
    }

    pub(super) async fn ensure_group_writable(
        &self,
        realm: &str,
        id: &str,
        what: &str,
    ) -> Result<(), DirectoryError> {
        if self.protected(realm).await?.groups.contains(id) {
            return Err(DirectoryError::Forbidden(format!(
                "Group {id} grants Keycloak admin roles; SCIM may not {what}"
            )));
        }
        Ok(())
    }
}
