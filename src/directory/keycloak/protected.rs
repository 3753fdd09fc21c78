//! The protected set of a realm: users and groups SCIM may read but not
//! write — service accounts, and holders of any `realm-management` role
//! (directly, through a group and its subgroups, or through a composite
//! realm role). Loaded on the first write and cached like realm state.
//!
//! Invariant: every write to a user or group checks this set first, and a
//! failure to load it refuses the write.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;

use super::{kc_err, KcDirectory};
use crate::directory::DirectoryError;

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
        let rm = accounts.realm_management.clone();
        let Some(rm) = rm else { return Ok(out) };
        let paged = [("first", "0".to_owned()), ("max", "10000".to_owned())];
        let mut holders: Vec<Vec<String>> = Vec::new();
        let roles = kc
            .get_realm_value(realm, &["clients", &rm, "roles"], &[])
            .await
            .map_err(&err)?;
        for role in roles.as_array().into_iter().flatten() {
            if let Some(name) = role.get("name").and_then(Value::as_str) {
                holders.push(vec![
                    "clients".into(),
                    rm.clone(),
                    "roles".into(),
                    name.into(),
                ]);
            }
        }
        let realm_roles = kc
            .get_realm_value(
                realm,
                &["roles"],
                &[("briefRepresentation", "false".to_owned())],
            )
            .await
            .map_err(&err)?;
        for role in realm_roles.as_array().into_iter().flatten() {
            let composite = role.get("composite").and_then(Value::as_bool) == Some(true);
            let Some(name) = role.get("name").and_then(Value::as_str) else {
                continue;
            };
            if !composite {
                continue;
            }
            let included = kc
                .get_realm_value(realm, &["roles", name, "composites", "clients", &rm], &[])
                .await
                .map_err(&err)?;
            if included.as_array().is_some_and(|a| !a.is_empty()) {
                holders.push(vec!["roles".into(), name.into()]);
            }
        }
        for base in holders {
            let mut users_path: Vec<&str> = base.iter().map(String::as_str).collect();
            users_path.push("users");
            let users = kc
                .get_realm_value(realm, &users_path, &paged)
                .await
                .map_err(&err)?;
            for u in users.as_array().into_iter().flatten() {
                if let Some(id) = u.get("id").and_then(Value::as_str) {
                    out.users.insert(id.to_owned());
                }
            }
            users_path.pop();
            users_path.push("groups");
            let groups = kc
                .get_realm_value(realm, &users_path, &paged)
                .await
                .map_err(&err)?;
            for g in groups.as_array().into_iter().flatten() {
                if let Some(id) = g.get("id").and_then(Value::as_str) {
                    self.protect_group_tree(realm, id, &mut out, 0).await?;
                }
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
        let paged = [("first", "0".to_owned()), ("max", "10000".to_owned())];
        let members = self
            .kc
            .get_realm_value(realm, &["groups", group, "members"], &paged)
            .await
            .map_err(&err)?;
        for m in members.as_array().into_iter().flatten() {
            if let Some(id) = m.get("id").and_then(Value::as_str) {
                out.users.insert(id.to_owned());
            }
        }
        let children = self
            .kc
            .get_realm_value(realm, &["groups", group, "children"], &paged)
            .await
            .map_err(&err)?;
        for c in children.as_array().into_iter().flatten() {
            if let Some(id) = c.get("id").and_then(Value::as_str) {
                Box::pin(self.protect_group_tree(realm, id, out, depth + 1)).await?;
            }
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
